;; RFC 6455 §5.3 masking in WebAssembly SIMD (source of src/protocol/bytes/mask-wasm.ts:
;; regenerate with `node --import tsx scripts/mask-wasm.ts`, checked by
;; test/protocol/bytes/mask.test.ts).
;;
;; mask(src, dst, len, key): dst[i] = src[i] XOR key byte (i mod 4), for i in
;; [0, len), both offsets in this module's memory (src = dst masks in place).
;; `key` is the 4 key bytes as a little-endian i32 (key byte 0 in the low
;; byte), already rotated to the phase of src[0] by the caller. 64 bytes per
;; iteration with four 128-bit XORs, then 4 bytes, then single bytes.
(module
  (memory (export "memory") 1)
  (func (export "mask") (param $src i32) (param $dst i32) (param $len i32) (param $key i32)
    (local $k v128) (local $end i32)
    (local.set $k (i32x4.splat (local.get $key)))
    (local.set $end (i32.add (local.get $src) (i32.and (local.get $len) (i32.const -64))))
    (block $done64
      (loop $l64
        (br_if $done64 (i32.ge_u (local.get $src) (local.get $end)))
        (v128.store offset=0 (local.get $dst) (v128.xor (v128.load offset=0 (local.get $src)) (local.get $k)))
        (v128.store offset=16 (local.get $dst) (v128.xor (v128.load offset=16 (local.get $src)) (local.get $k)))
        (v128.store offset=32 (local.get $dst) (v128.xor (v128.load offset=32 (local.get $src)) (local.get $k)))
        (v128.store offset=48 (local.get $dst) (v128.xor (v128.load offset=48 (local.get $src)) (local.get $k)))
        (local.set $src (i32.add (local.get $src) (i32.const 64)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
        (br $l64)))
    (local.set $end (i32.add (local.get $end) (i32.and (local.get $len) (i32.const 63))))
    (block $done4
      (loop $l4
        (br_if $done4 (i32.gt_u (i32.add (local.get $src) (i32.const 4)) (local.get $end)))
        (i32.store (local.get $dst) (i32.xor (i32.load (local.get $src)) (local.get $key)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br $l4)))
    (block $done1
      (loop $l1
        (br_if $done1 (i32.ge_u (local.get $src) (local.get $end)))
        (i32.store8 (local.get $dst) (i32.xor (i32.load8_u (local.get $src)) (local.get $key)))
        (local.set $key (i32.rotr (local.get $key) (i32.const 8)))
        (local.set $src (i32.add (local.get $src) (i32.const 1)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
        (br $l1))))
)
