/**
 * HTTP status codes' reason phrases (RFC 9110 §15), for the status lines we
 * write and the rejections the layers above send.
 *
 * Invariants: pure; `reasonPhrase` never returns an empty string.
 * @module
 */

// RFC 9110 §15: the reason phrases of the status codes a WebSocket server
// sends or an application is likely to reject with.
const REASONS: ReadonlyMap<number, string> = new Map([
  [100, "Continue"], [101, "Switching Protocols"],
  [200, "OK"], [201, "Created"], [202, "Accepted"], [204, "No Content"],
  [301, "Moved Permanently"], [302, "Found"], [303, "See Other"], [304, "Not Modified"],
  [307, "Temporary Redirect"], [308, "Permanent Redirect"],
  [400, "Bad Request"], [401, "Unauthorized"], [402, "Payment Required"], [403, "Forbidden"], [404, "Not Found"],
  [405, "Method Not Allowed"], [406, "Not Acceptable"], [407, "Proxy Authentication Required"],
  [408, "Request Timeout"], [409, "Conflict"], [410, "Gone"], [411, "Length Required"], [413, "Content Too Large"],
  [414, "URI Too Long"], [415, "Unsupported Media Type"], [421, "Misdirected Request"], [426, "Upgrade Required"],
  [428, "Precondition Required"], [429, "Too Many Requests"], [431, "Request Header Fields Too Large"],
  [500, "Internal Server Error"], [501, "Not Implemented"], [502, "Bad Gateway"], [503, "Service Unavailable"],
  [504, "Gateway Timeout"], [505, "HTTP Version Not Supported"],
]);
const CLASS_REASONS = ["Unknown", "Informational", "Success", "Redirection", "Client Error", "Server Error"];

/**
 * The reason phrase sent after `statusCode` on our status lines: RFC 9110's
 * name for the code, else the name of its class ("Client Error"), else
 * "Unknown". Never empty: some clients reject `HTTP/1.1 101 ` (RFC 9112 §4
 * allows it, but a reason phrase costs nothing).
 * @example
 * ```ts
 * reasonPhrase(101); // "Switching Protocols"
 * reasonPhrase(499); // "Client Error"
 * ```
 */
export function reasonPhrase(statusCode: number): string {
  return REASONS.get(statusCode) ?? CLASS_REASONS[Math.floor(statusCode / 100)] ?? "Unknown";
}
