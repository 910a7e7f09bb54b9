// Every hs_* vector of the wsproto 1.2 conformance file, run against
// WSConnection byte for byte (with the sequential RNG the vectors were
// recorded with), except where the project deliberately does better (the
// deviation table below; each asserts our behaviour instead).
import t from "tap";
import { constants, inflateRawSync } from "node:zlib";
import {
  checkDeviationsExist,
  decodeFrames,
  fromHex,
  loadVectors,
  runVector,
  toHex,
  type CompareCompressed,
  type Deviation,
  type ExtensionSpec,
  type Json,
  type MakeExtension,
  type SetupFactory,
  type Step,
} from "../helpers/vectors.ts";
import { WSConnection } from "../../src/protocol/ws-connection.ts";
import { PerMessageDeflate } from "../../src/protocol/extensions/permessage-deflate.ts";
import type { PerMessageDeflateOptions } from "../../src/protocol/extensions/pmd-params.ts";
import type { Extension } from "../../src/protocol/extensions/extension.ts";
import { ConnectionType } from "../../src/protocol/types.ts";

/** `new WSConnection(role, { random })`: the setup every hs_* vector uses. */
export const wsConnectionSetup: SetupFactory = (ctx) =>
  new WSConnection(ctx.role === "client" ? ConnectionType.CLIENT : ConnectionType.SERVER, {
    random: ctx.random,
    ...ctx.options,
  });

const camel = (s: string): string => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** PerMessageDeflate from a vector's `{ name, init, finalize?, accept? }`. */
export const makePmd: MakeExtension = (spec: ExtensionSpec) => {
  if (spec.name !== "permessage-deflate") throw new Error(`unknown extension ${spec.name}`);
  const init: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec.init ?? {})) init[camel(k)] = v;
  const ext = new PerMessageDeflate(init as PerMessageDeflateOptions);
  if (spec.finalize !== undefined) ext.finalize(spec.finalize);
  if (spec.accept !== undefined) ext.accept(spec.accept);
  return ext;
};

/** The keys the vectors record for a negotiated PerMessageDeflate. */
export const pmdToJson = (ext: Extension): Json => {
  if (!(ext instanceof PerMessageDeflate)) return { name: ext.name, enabled: ext.enabled() };
  return {
    name: ext.name,
    enabled: ext.enabled(),
    client_max_window_bits: ext.clientMaxWindowBits,
    server_max_window_bits: ext.serverMaxWindowBits,
    client_no_context_takeover: ext.clientNoContextTakeover,
    server_no_context_takeover: ext.serverNoContextTakeover,
  };
};

const inflate = (payload: Uint8Array): string =>
  toHex(inflateRawSync(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: constants.Z_SYNC_FLUSH }));

/** zlib-dependent sends: same frame headers and masks, payloads that inflate to the same bytes. */
const compareCompressed: CompareCompressed = (tt, { expect, actual }) => {
  if (expect.frames === undefined) {
    tt.equal(toHex(actual), expect.bytes_hex, "bytes (not compressed)");
    return;
  }
  const want = decodeFrames(fromHex(expect.bytes_hex!));
  const got = decodeFrames(actual);
  tt.equal(got.length, want.length, "number of frames");
  want.forEach((w, i) => {
    const g = got[i]!;
    for (const k of ["fin", "rsv1", "rsv2", "rsv3", "opcode", "masked", "mask_hex"] as const) {
      tt.same(g[k], w[k], `frame ${i} ${k}`);
    }
    tt.equal(w.rsv1 ? inflate(g.payload) : toHex(g.payload), w.rsv1 ? inflate(w.payload) : toHex(w.payload), `frame ${i} payload`);
  });
};

const REQUEST_101 =
  "HTTP/1.1 101 \r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
const hex = (text: string): string => toHex(new TextEncoder().encode(text));

/** A request refused at `receive` with a 400 hint and `message`, then no event: a case's first two steps. */
function refused400(dataHex: string, message: string): Step[] {
  return [
    {
      op: "receive",
      data_hex: dataHex,
      expect: {
        error: "RemoteProtocolError",
        message,
        event_hint: { type: "RejectConnection", status_code: 400, headers: [], has_body: false },
        state_after: "CONNECTING",
      },
    },
    { op: "events", expect: { events: [], state_after: "CONNECTING" } },
  ];
}

export const HANDSHAKE_DEVIATIONS: Deviation[] = [
  {
    id: "hs_server_pipelined_frame_lost",
    why: "a server keeps bytes that arrive after the request head and hands them to the connection on accept",
    patch: (steps) => {
      // Step 3 (events right after the accept) now yields the early frame's message.
      steps[3]!.expect.events = [{ type: "TextMessage", data: "early", frame_finished: true, message_finished: true }];
      return steps;
    },
  },
  {
    id: "hs_client_1xx_not_101",
    label: "102_alone",
    why: "1xx interim responses are ignored while waiting for the real one",
    patch: (steps) => {
      steps[1]!.expect.state_after = "CONNECTING";
      steps[2]!.expect = { events: [], state_after: "CONNECTING" };
      return steps;
    },
  },
  {
    id: "hs_client_1xx_not_101",
    label: "100_then_101",
    why: "1xx interim responses are ignored while waiting for the real one",
    patch: (steps) => {
      steps[2]!.expect.events = steps[2]!.expect.events!.filter((e) => e["type"] !== "RejectConnection");
      return steps;
    },
  },
  {
    id: "hs_server_request_validation",
    label: "ok_key_not_validated",
    why: "RFC 6455 §4.2.1: a Sec-WebSocket-Key that is not base64 of 16 bytes is refused with 400 (wsproto accepts any)",
    patch: (steps): Step[] => [
      ...refused400(steps[0]!.data_hex!, 'Invalid Sec-WebSocket-Key "short"'),
      {
        op: "send_hint",
        expect: { bytes_hex: hex("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"), state_after: "CLOSED" },
      },
    ],
  },
  {
    id: "hs_server_request_validation",
    label: "ok_http10_with_host",
    why: "RFC 6455 §4.1: an upgrade request's HTTP version must be at least 1.1; 1.0 is refused with 400 (wsproto accepts it)",
    patch: (steps): Step[] => [
      ...refused400(steps[0]!.data_hex!, "HTTP version must be at least 1.1, got 1.0"),
      {
        op: "send_hint",
        expect: { bytes_hex: hex("HTTP/1.1 400 \r\ncontent-length: 0\r\nConnection: close\r\n\r\n"), state_after: "CLOSED" },
      },
    ],
  },
  {
    id: "hs_server_reject_body_http10",
    why: "RFC 6455 §4.1: an upgrade request's HTTP version must be at least 1.1; 1.0 gets a RemoteProtocolError (400), and a rejection is still framed for 1.0",
    patch: (steps): Step[] => [
      ...refused400(steps[0]!.data_hex!, "HTTP version must be at least 1.1, got 1.0"),
      steps[2]!,
      steps[3]!,
    ],
  },
  {
    id: "hs_client_response_validation",
    label: "pmd_server_max_window_bits_8",
    why: "window bits 8 is accepted where we only inflate (the server's window, on a client)",
    patch: (steps) => {
      steps[1]!.expect = { ok: true, state_after: "OPEN" };
      steps[2]!.expect = {
        events: [
          {
            type: "AcceptConnection",
            subprotocol: null,
            extensions: [
              {
                name: "permessage-deflate",
                enabled: true,
                client_max_window_bits: 15,
                server_max_window_bits: 8,
                client_no_context_takeover: false,
                server_no_context_takeover: false,
              },
            ],
            extra_headers: [],
          },
        ],
        state_after: "OPEN",
      };
      return steps;
    },
  },
];

const vectors = loadVectors().vectors.filter((v) => v.id.startsWith("hs_"));

t.test("the handshake vectors are all here", async (t) => {
  t.equal(vectors.length, 22, "22 hs_* vectors");
  checkDeviationsExist(t, HANDSHAKE_DEVIATIONS);
  t.ok(REQUEST_101.length > 0);
});

for (const vector of vectors) {
  t.test(vector.id, async (t) => {
    runVector(t, vector, {
      setups: { WSConnection: wsConnectionSetup },
      makeExtension: makePmd,
      extensionToJson: pmdToJson,
      compareCompressed,
      deviations: HANDSHAKE_DEVIATIONS,
    });
  });
}
