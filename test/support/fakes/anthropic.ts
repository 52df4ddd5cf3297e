import type http from "node:http";

/** What the fake Anthropic API saw: each request's method, path, headers and body. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function sse(res: http.ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/**
 * A fake Messages API: POST /v1/messages answers `reply` as a stream of SSE events, the way the real
 * API does (message_start, content_block_*, message_delta, message_stop); anything else gets 404.
 */
export function anthropicHandler(reply: string, seen: SeenRequest[]): http.RequestListener {
  return (req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const path = req.url ?? "";
      seen.push({ method: req.method ?? "", path, headers: req.headers, body });
      if (req.method !== "POST" || !path.startsWith("/v1/messages")) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(
          JSON.stringify({ type: "error", error: { type: "not_found_error", message: path } }),
        );
        return;
      }
      const request = JSON.parse(body) as { model?: string; stream?: boolean };
      const id = `msg_fake_${seen.length}`;
      const usage = { input_tokens: 10, output_tokens: 5 };
      const message = {
        id,
        type: "message",
        role: "assistant",
        model: request.model ?? "claude-fake",
        content: [] as unknown[],
        stop_reason: null,
        stop_sequence: null,
        usage,
      };
      if (request.stream !== true) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            ...message,
            content: [{ type: "text", text: reply }],
            stop_reason: "end_turn",
          }),
        );
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      sse(res, "message_start", { type: "message_start", message });
      sse(res, "content_block_start", {
        type: "content_block_start",
        index: 0,
        content_block: { type: "text", text: "" },
      });
      for (const word of reply.split(/(?<= )/)) {
        sse(res, "content_block_delta", {
          type: "content_block_delta",
          index: 0,
          delta: { type: "text_delta", text: word },
        });
      }
      sse(res, "content_block_stop", { type: "content_block_stop", index: 0 });
      sse(res, "message_delta", {
        type: "message_delta",
        delta: { stop_reason: "end_turn", stop_sequence: null },
        usage: { output_tokens: 5 },
      });
      sse(res, "message_stop", { type: "message_stop" });
      res.end();
    });
  };
}
