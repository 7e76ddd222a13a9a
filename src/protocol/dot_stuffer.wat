(module
  ;; The multi-line encoder of RFC 1939 section 3 for DotStuffer
  ;; (dot_stuffer.ts), for chunks of up to 256 KiB: a CR before each LF
  ;; that has none, a dot before each dot that starts a line. The input is
  ;; at 0 (n bytes, then 16 bytes without an LF, so that the 16-byte scan
  ;; may read past n); the output goes to $out, which must leave 2n + 16
  ;; bytes (a "\n." can become "\r\n..", and a store may run 16 bytes past
  ;; the end). 13 pages: 256 KiB in, 16 + 48 spare, 512 KiB + 16 out.
  ;; Regenerate _dot_stuffer_wasm.ts with
  ;; `deno run -A --no-lock scripts/build_wasm.ts` after a change.
  ;;
  ;; Every 16-byte block of the input is stored to the output as it is, at
  ;; its place shifted by the octets inserted so far ($d). Where a block
  ;; holds an LF that needs a CR (or a line that starts with a dot), the
  ;; inserted octet is stored and the rest of the block stored again one
  ;; place further on; later stores overwrite what ran past. No call per
  ;; line: a line costs a few loads and stores, a block without an LF one
  ;; load, one compare and one store.
  (memory (export "memory") 13)
  (global $crs (export "crs") (mut i32) (i32.const 0))
  (func (export "encode")
        (param $n i32) (param $out i32) (param $atLineStart i32) (param $prevCR i32)
        (result i32)
    (local $i i32) (local $j i32) (local $d i32) (local $mask i32)
    (local $lf v128) (local $block v128) (local $crs i32)
    (local.set $lf (i8x16.splat (i32.const 10)))
    ;; output address = input address + $d
    (local.set $d (local.get $out))
    ;; a dot at the very start of a line that began in an earlier chunk
    (if (i32.and (local.get $atLineStart)
                 (i32.eq (i32.load8_u (i32.const 0)) (i32.const 46)))
      (then
        (i32.store8 (local.get $d) (i32.const 46))
        (local.set $d (i32.add (local.get $d) (i32.const 1)))))
    (if (i32.gt_u (local.get $n) (i32.const 0))
      (then
        (loop $blocks
          (local.set $block (v128.load (local.get $i)))
          (v128.store (i32.add (local.get $i) (local.get $d)) (local.get $block))
          (local.set $mask
            (i8x16.bitmask (i8x16.eq (local.get $block) (local.get $lf))))
          (block $lines
            (loop $line
              (br_if $lines (i32.eqz (local.get $mask)))
              (local.set $j (i32.add (local.get $i) (i32.ctz (local.get $mask))))
              (local.set $mask
                (i32.and (local.get $mask)
                         (i32.sub (local.get $mask) (i32.const 1))))
              ;; a bare LF gets a CR before it
              (if (if (result i32) (local.get $j)
                    (then (i32.ne (i32.load8_u (i32.sub (local.get $j) (i32.const 1)))
                                  (i32.const 13)))
                    (else (i32.eqz (local.get $prevCR))))
                (then
                  (i32.store8 (i32.add (local.get $j) (local.get $d)) (i32.const 13))
                  (local.set $d (i32.add (local.get $d) (i32.const 1)))
                  (v128.store (i32.add (local.get $j) (local.get $d))
                              (v128.load (local.get $j)))
                  (local.set $crs (i32.add (local.get $crs) (i32.const 1)))))
              ;; a dot that starts the next line gets a dot before it
              (local.set $j (i32.add (local.get $j) (i32.const 1)))
              (if (i32.and (i32.lt_u (local.get $j) (local.get $n))
                           (i32.eq (i32.load8_u (local.get $j)) (i32.const 46)))
                (then
                  (i32.store8 (i32.add (local.get $j) (local.get $d)) (i32.const 46))
                  (local.set $d (i32.add (local.get $d) (i32.const 1)))
                  (v128.store (i32.add (local.get $j) (local.get $d))
                              (v128.load (local.get $j)))))
              (br $line)))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br_if $blocks (i32.lt_u (local.get $i) (local.get $n))))))
    (global.set $crs (local.get $crs))
    ;; octets out: the input's n plus every octet inserted
    (i32.sub (i32.add (local.get $n) (local.get $d)) (local.get $out))))
