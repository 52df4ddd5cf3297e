// Prints vitest's totals as the one closing line CI reads; fails when the report is missing or any
// test or test file failed (a file that fails to load counts as one failure).
import { readFileSync } from "node:fs";

const [reportPath] = process.argv.slice(2);
let report;
try {
  report = JSON.parse(readFileSync(reportPath, "utf8"));
} catch (error) {
  console.error(`no vitest report at ${reportPath}: ${error.message}`);
  console.log("tests: 0 passed, 1 failed, 0 skipped");
  process.exit(1);
}
const brokenFiles = report.testResults.filter(
  (file) => file.status === "failed" && file.assertionResults.length === 0,
).length;
const failed = report.numFailedTests + brokenFiles;
const skipped = report.numPendingTests + report.numTodoTests;
console.log(`tests: ${report.numPassedTests} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || !report.success ? 1 : 0);
