/**
 * Plain HTTP beside a `WebSocketServer`'s WebSockets: a request that is not
 * an upgrade goes to `handleHttp` (a WHATWG `Request` in, a `Response` out,
 * streamed back), or gets 426. A handler that throws answers 500 and is
 * reported.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { reasonPhrase } from "../protocol/http/status.ts";
import { responseHeaders, shortAnswer, upgradeRequired, type HttpAnswer, type HttpHandler } from "../streams/plain-http.ts";
import { nodeToFetchRequest } from "./upgrade.ts";

/** Answer one plain request (`secure`: it came over TLS, for the `Request`'s URL); `failed` gets a handler's exception. */
export async function serveHttp(
  req: IncomingMessage,
  res: ServerResponse,
  handleHttp: HttpHandler | undefined,
  secure: boolean,
  failed: (error: unknown) => void,
): Promise<void> {
  if (handleHttp === undefined) {
    writeAnswer(res, upgradeRequired());
    return;
  }
  let response: Response;
  try {
    response = await handleHttp(nodeToFetchRequest(req, secure));
    if (!(response instanceof Response)) throw new TypeError("handleHttp must return a Response");
  } catch (error) {
    // The client gets a 500; the application gets the exception (as for handleRequest).
    failed(error);
    if (!res.headersSent) writeAnswer(res, shortAnswer(500, "The request handler failed."));
    return;
  }
  res.writeHead(response.status, response.statusText || reasonPhrase(response.status), responseHeaders(response).flat());
  if (response.body === null || req.method === "HEAD") {
    res.end();
    return;
  }
  try {
    await pipeline(Readable.fromWeb(response.body as Parameters<typeof Readable.fromWeb>[0]), res);
  } catch {
    res.destroy();
  }
}

/** Write a whole short answer (426, 500...) through node:http. */
export function writeAnswer(res: ServerResponse, answer: HttpAnswer): void {
  res.writeHead(answer.status, answer.reason, answer.headers.flat());
  res.end(answer.body);
}
