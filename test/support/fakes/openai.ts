import { createHash } from "node:crypto";
import type http from "node:http";
import type { Duplex } from "node:stream";
import type { SeenRequest } from "./anthropic.js";

/** A Responses API stream event: what one SSE `data:` line or one WebSocket text frame carries. */
type ResponseEvent = { type: string } & Record<string, unknown>;

/**
 * The events of one turn answering `reply`, in the real API's order: response.created, the message
 * item added, its text as deltas, the item done, response.completed with usage.
 */
function responseEvents(reply: string, model: string, n: number): ResponseEvent[] {
  const response = {
    id: `resp_fake_${n}`,
    object: "response",
    created_at: 0,
    status: "in_progress",
    model,
    output: [] as unknown[],
  };
  const itemId = `msg_fake_${n}`;
  const message = {
    type: "message",
    id: itemId,
    role: "assistant",
    status: "completed",
    content: [{ type: "output_text", text: reply, annotations: [] }],
  };
  const usage = {
    input_tokens: 10,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 5,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 15,
  };
  return [
    { type: "response.created", response },
    {
      type: "response.output_item.added",
      output_index: 0,
      item: { ...message, status: "in_progress", content: [] },
    },
    ...reply.split(/(?<= )/).map((word) => ({
      type: "response.output_text.delta",
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      delta: word,
    })),
    { type: "response.output_item.done", output_index: 0, item: message },
    {
      type: "response.completed",
      response: { ...response, status: "completed", output: [message], usage },
    },
  ];
}

/**
 * A fake OpenAI Responses API over HTTP, as Codex falls back to it: POST /v1/responses answers
 * `reply` as SSE; anything else gets 404.
 */
export function openaiHandler(reply: string, seen: SeenRequest[]): http.RequestListener {
  return (req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const path = req.url ?? "";
      seen.push({ method: req.method ?? "", path, headers: req.headers, body });
      if (req.method !== "POST" || !path.startsWith("/v1/responses")) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { type: "invalid_request_error", message: path } }));
        return;
      }
      const request = JSON.parse(body) as { model?: string };
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      for (const event of responseEvents(reply, request.model ?? "gpt-fake", seen.length)) {
        res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      }
      res.end();
    });
  };
}

const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** An unmasked server frame (RFC 6455 §5.2) with FIN set. */
function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const head =
    length < 126
      ? Buffer.from([0x80 | opcode, length])
      : length < 0x10000
        ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(length)]);
  return Buffer.concat([head, payload]);
}

function bigLength(length: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(length));
  return bytes;
}

/** The first whole (masked, client) frame in `buffer`, or null when more bytes are needed. */
function decodeFrame(
  buffer: Buffer,
): { fin: boolean; opcode: number; payload: Buffer; rest: Buffer } | null {
  if (buffer.length < 2) return null;
  const first = buffer[0] as number;
  const second = buffer[1] as number;
  let length = second & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return null;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return null;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  const masked = (second & 0x80) !== 0;
  const mask = masked ? buffer.subarray(offset, offset + 4) : null;
  if (masked) offset += 4;
  if (buffer.length < offset + length) return null;
  const payload = Buffer.from(buffer.subarray(offset, offset + length));
  if (mask !== null)
    for (let i = 0; i < payload.length; i++)
      payload[i] = (payload[i] as number) ^ (mask[i % 4] as number);
  return {
    fin: (first & 0x80) !== 0,
    opcode: first & 0x0f,
    payload,
    rest: buffer.subarray(offset + length),
  };
}

/**
 * The Responses API over WebSocket, Codex's first choice for api.openai.com: GET /v1/responses
 * upgrades; each `response.create` text frame is answered with the turn's events, one per frame.
 * The upgrade request is recorded in `seen` like any other request, each message as method "WS".
 */
export function openaiWebSocketHandler(
  reply: string,
  seen: SeenRequest[],
): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const path = req.url ?? "";
    seen.push({ method: req.method ?? "", path, headers: req.headers, body: "" });
    const key = req.headers["sec-websocket-key"];
    if (!path.startsWith("/v1/responses") || typeof key !== "string") {
      socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    const accept = createHash("sha1")
      .update(key + WEBSOCKET_GUID)
      .digest("base64");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`,
    );
    let pending: Buffer = Buffer.from(head);
    let message: Buffer[] = [];
    const onMessage = (text: string) => {
      seen.push({ method: "WS", path, headers: req.headers, body: text });
      const request = JSON.parse(text) as { type?: string; model?: string };
      if (request.type !== "response.create") return;
      for (const event of responseEvents(reply, request.model ?? "gpt-fake", seen.length)) {
        socket.write(encodeFrame(0x1, Buffer.from(JSON.stringify(event))));
      }
    };
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (let frame = decodeFrame(pending); frame !== null; frame = decodeFrame(pending)) {
        pending = frame.rest;
        if (frame.opcode === 0x8) {
          socket.end(encodeFrame(0x8, Buffer.alloc(0)));
          return;
        }
        if (frame.opcode === 0x9) socket.write(encodeFrame(0xa, frame.payload));
        if (frame.opcode === 0x1 || frame.opcode === 0x0) message.push(frame.payload);
        if (frame.fin && (frame.opcode === 0x1 || frame.opcode === 0x0)) {
          onMessage(Buffer.concat(message).toString("utf8"));
          message = [];
        }
      }
    });
    socket.on("error", () => socket.destroy());
  };
}
