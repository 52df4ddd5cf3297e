import type http from "node:http";
import type { SeenRequest } from "./anthropic.js";

const MODEL_CALL = /^\/v1beta\/models\/([^/:?]+):(streamGenerateContent|generateContent)(\?|$)/;

/** JSON-schema-ish, as Gemini's responseJsonSchema carries it (types in either case). */
interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  enum?: unknown[];
  minimum?: number;
}

/**
 * The smallest value that fits `schema`: the CLI asks for JSON (its model router's classifier, for
 * one) and retries, for long, until the text parses and fits.
 */
function sampleOf(schema: Schema | undefined): unknown {
  if (schema?.enum !== undefined) return schema.enum[0];
  switch (schema?.type?.toLowerCase()) {
    case "object":
      return Object.fromEntries(
        Object.entries(schema.properties ?? {}).map(([key, value]) => [key, sampleOf(value)]),
      );
    case "array":
      return [];
    case "string":
      return "fake";
    case "integer":
    case "number":
      return schema.minimum ?? 1;
    case "boolean":
      return false;
    default:
      return {};
  }
}

interface GenerateContentRequest {
  generationConfig?: {
    responseMimeType?: string;
    responseJsonSchema?: Schema;
    responseSchema?: Schema;
  };
}

function answer(reply: string, model: string) {
  return {
    candidates: [
      { content: { role: "model", parts: [{ text: reply }] }, finishReason: "STOP", index: 0 },
    ],
    usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 },
    modelVersion: model,
  };
}

/**
 * A fake Gemini API (generativelanguage.googleapis.com): `models/M:streamGenerateContent?alt=sse`
 * answers `reply` as SSE chunks of GenerateContentResponse, `models/M:generateContent` as one JSON
 * response (for a JSON request, a value that fits its schema); anything else gets 404.
 */
export function geminiHandler(reply: string, seen: SeenRequest[]): http.RequestListener {
  return (req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const path = req.url ?? "";
      seen.push({ method: req.method ?? "", path, headers: req.headers, body });
      const call = MODEL_CALL.exec(path);
      if (req.method !== "POST" || call === null) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code: 404, message: path, status: "NOT_FOUND" } }));
        return;
      }
      const model = call[1] as string;
      if (call[2] === "generateContent") {
        const config = (JSON.parse(body) as GenerateContentRequest).generationConfig;
        const text =
          config?.responseMimeType === "application/json"
            ? JSON.stringify(sampleOf(config.responseJsonSchema ?? config.responseSchema))
            : reply;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(answer(text, model)));
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const words = reply.split(/(?<= )/);
      words.forEach((word, i) => {
        const chunk = answer(word, model);
        const last = i === words.length - 1;
        const candidate = chunk.candidates[0] as Record<string, unknown>;
        if (!last) delete candidate.finishReason;
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      });
      res.end();
    });
  };
}
