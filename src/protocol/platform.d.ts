// The whole platform surface src/protocol may use, checked by
// tsconfig.protocol.json (which loads no DOM and no Node types): if the core
// reaches for anything else, the type check fails.
declare class TextEncoder {
  encode(input?: string): Uint8Array;
  encodeInto(source: string, destination: Uint8Array): { read: number; written: number };
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: ArrayBufferView | ArrayBuffer, options?: { stream?: boolean }): string;
}
declare const crypto: { getRandomValues<T extends ArrayBufferView>(array: T): T };
// WebAssembly, as mask.ts uses it: validate, then compile and instantiate
// synchronously from embedded bytes (a global of every runtime the core targets;
// mask.ts falls back to JavaScript where it is missing or refuses).
declare namespace WebAssembly {
  function validate(bytes: Uint8Array<ArrayBuffer>): boolean;
  class Module {
    constructor(bytes: Uint8Array<ArrayBuffer>);
  }
  class Instance {
    constructor(module: Module, imports?: object);
    readonly exports: object;
  }
}
