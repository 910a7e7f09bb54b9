#!/usr/bin/env node
// Diagnostic (not run by the tests): two ways of misusing Node's private
// native zlib handle, and whether they corrupt the process's heap on this
// Node. The native codec (the module behind `nodeZlibCodec`) avoids both.
//
//   node scripts/zlib-handle-check.mjs after-error [rounds]
//     Each round: a sync-flushed message, a Z_FINISH that fails ("unexpected
//     end of file", reported through onerror), then another write to the
//     same handle. The writeState array is kept alive.
//   node scripts/zlib-handle-check.mjs unreferenced-state [rounds]
//     Plain valid writes, but the writeState array given to init() is
//     referenced by nothing after the call.
//
// Measured (200,000 rounds each): after-error survives on 20.20.2, 22.23.5,
// 24.22.3 and 26.12.1; unreferenced-state aborts on all four (malloc:
// "unaligned fastbin chunk detected" or the like): the native handle does
// not keep its writeState array alive (Node's own streams keep theirs in
// `this._writeState`), so once the array is collected every call writes its
// two results into freed memory.
import zlib from "node:zlib";

const { Z_SYNC_FLUSH, Z_FINISH, INFLATERAW, Z_DEFAULT_STRATEGY } = zlib.constants;
const mode = process.argv[2];
const rounds = Number(process.argv[3] ?? 200000);
if (mode !== "after-error" && mode !== "unreferenced-state") {
  console.error("usage: node scripts/zlib-handle-check.mjs after-error|unreferenced-state [rounds]");
  process.exit(2);
}
const stream = zlib.createInflateRaw();
const Handle = stream._handle.constructor;
stream.close();
const payload = zlib.deflateRawSync(Buffer.from("Hello Hello Hello ".repeat(20)), { finishFlush: Z_SYNC_FLUSH });
const out = new Uint8Array(65536);
let errors = 0;

function open(state) {
  const h = new Handle(INFLATERAW);
  h.onerror = () => {
    errors++;
  };
  h.init(15, -1, 8, Z_DEFAULT_STRATEGY, state, () => {}, undefined);
  return h;
}

// Some allocation churn, as a program would have: malloc notices a corrupt heap here.
const junk = [];
function churn(i) {
  if (i % 1000 === 0) {
    junk.length = 0;
    for (let k = 0; k < 50; k++) junk.push(new Uint8Array(64 + k));
  }
}

if (mode === "after-error") {
  const state = new Uint32Array(2);
  const h = open(state);
  for (let i = 0; i < rounds; i++) {
    h.writeSync(Z_SYNC_FLUSH, payload, 0, payload.length, out, 0, out.length);
    h.writeSync(Z_FINISH, new Uint8Array(0), 0, 0, out, 0, out.length); // fails: the stream did not end
    h.writeSync(Z_SYNC_FLUSH, payload, 0, payload.length, out, 0, out.length);
    if (i % 3 === 0) h.reset();
    churn(i);
  }
  if (state[1] !== 0) throw new Error("input left over");
} else {
  const h = open(new Uint32Array(2)); // nothing keeps this array
  for (let i = 0; i < rounds; i++) {
    h.writeSync(Z_SYNC_FLUSH, payload, 0, payload.length, out, 0, out.length);
    churn(i);
  }
}
console.log(`Node ${process.version}, ${mode}: ${rounds} rounds, ${errors} zlib errors, survived`);
