// Every frame_*, close_*, send_* and local_misuse vector of the wsproto 1.2
// conformance file, run against Connection (byte-exact, with the sequential
// RNG the vectors were recorded with), except where the project deliberately
// does better (the deviation table below; each asserts our behaviour).
import t from "tap";
import { findVector, loadVectors, runVector, checkDeviationsExist, type Deviation, type Step } from "../helpers/vectors.ts";

const FRAME_PREFIXES = ["frame_", "close_", "send_", "local_misuse"];

/** Replace the expectation of step `index` (keeping `state_after` unless given). */
function expectAt(index: number, expect: Step["expect"]): (steps: Step[]) => Step[] {
  return (steps) => {
    const step = steps[index]!;
    step.expect = { state_after: step.expect.state_after, ...expect } as Step["expect"];
    return steps;
  };
}

const refusedCloseCode = (code: number): Step["expect"] => ({
  error: "LocalProtocolError",
  message: `Invalid close code to send: ${code}`,
  state_after: "OPEN",
});

export const FRAME_DEVIATIONS: Deviation[] = [
  {
    id: "close_eof_ordering_quirk",
    why: "buffered frames are delivered before the 1006 close (README: close_eof_ordering_quirk)",
    patch: (steps) => {
      const events = steps[2]!.expect.events!;
      steps[2]!.expect.events = [events[1]!, events[0]!];
      return steps;
    },
  },
  {
    id: "frame_partial_delivery",
    label: "huge_declared_length_no_limit",
    why: "limits: a frame longer than maxFrameSize (default 64 MiB), or than 2^53-1 bytes, fails with 1009 from its header",
    patch: expectAt(1, {
      events: [
        { type: "CloseConnection", code: 1009, reason: "Frame payload of more than 9007199254740991 bytes" },
      ],
      state_after: "OPEN",
    }),
  },
  {
    id: "frame_utf8",
    label: "surrogate_prefix_ed_a0_nonfinal_not_detected_yet",
    why: "the platform's strict streaming decoder rejects ED A0 (a surrogate) at once: fail fast (spec §4.4)",
    patch: expectAt(1, {
      events: [{ type: "CloseConnection", code: 1007, reason: "", reason_compare: false }],
      state_after: "OPEN",
    }),
  },
  {
    id: "send_close_rules",
    label: "1006_mapped_to_1000_reason_kept",
    why: "a close code a peer may not receive raises LocalProtocolError instead of silently becoming 1000",
    patch: expectAt(0, refusedCloseCode(1006)),
  },
  {
    id: "send_close_rules",
    label: "1015_mapped_to_1000",
    why: "a close code a peer may not receive raises LocalProtocolError instead of silently becoming 1000",
    patch: expectAt(0, refusedCloseCode(1015)),
  },
  {
    id: "send_close_rules",
    label: "999_not_validated",
    why: "a close code outside 1000-4999 raises LocalProtocolError instead of being sent",
    patch: expectAt(0, refusedCloseCode(999)),
  },
  {
    id: "send_close_rules",
    label: "int_1005_mapped_to_1000",
    why: "JS has no int/enum distinction: 1005 (NO_STATUS_RCVD) always means an empty close payload",
    patch: expectAt(0, {
      bytes_hex: "8800",
      frames: [
        { fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 8, masked: false, payload_len: 0, payload_hex: "" },
      ],
      state_after: "LOCAL_CLOSING",
    }),
  },
];

const vectors = loadVectors().vectors.filter((v) => FRAME_PREFIXES.some((p) => v.id.startsWith(p)));

t.test("the frame-layer vectors are all here", async (t) => {
  t.equal(vectors.length, 16, "16 frame/close/send/local_misuse vectors");
  checkDeviationsExist(t, FRAME_DEVIATIONS);
  // The deviations above are exactly the frame-layer rows of conformance/README.md.
  t.ok(findVector("close_eof_ordering_quirk"));
});

for (const vector of vectors) {
  t.test(vector.id, async (t) => {
    runVector(t, vector, { deviations: FRAME_DEVIATIONS });
  });
}
