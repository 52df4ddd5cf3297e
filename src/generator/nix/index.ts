export * from "./ast.js";
export { fromJson } from "./from-json.js";
export { type PrintOptions, printNix } from "./print.js";
