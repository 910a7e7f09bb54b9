/**
 * RFC 6455 §5.2 framing, in three files: the header's layout and length
 * rules (frame-header.ts), the builder (frame-builder.ts) and the
 * incremental reader (frame-reader.ts). This file gathers their exports.
 * @module
 */
export * from "./frame-header.ts";
export * from "./frame-builder.ts";
export * from "./frame-reader.ts";
