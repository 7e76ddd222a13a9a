(module
  ;; The multi-line encoder of RFC 1939 section 3 for DotStuffer
  ;; (dot_stuffer.ts), for chunks of up to 256 KiB: a CR before each LF
  ;; that has none, a dot before each dot that starts a line. The input is
  ;; at 0 (n bytes, then 16 bytes without an LF, so that the 16-byte scan
  ;; may read past n); the output goes to $out, which must leave 2n bytes
  ;; (a "\n." can become "\r\n.."). 13 pages: 256 KiB in, 16 + 48 spare,
  ;; 512 KiB out. Regenerate _dot_stuffer_wasm.ts with
  ;; `deno run -A --no-lock scripts/build_wasm.ts` after a change.
  (memory (export "memory") 13)
  (global $crs (export "crs") (mut i32) (i32.const 0))
  (func (export "encode")
        (param $n i32) (param $out i32) (param $atLineStart i32) (param $prevCR i32)
        (result i32)
    (local $i i32) (local $j i32) (local $seg i32) (local $o i32)
    (local $mask i32) (local $lf v128) (local $crs i32)
    (local.set $lf (i8x16.splat (i32.const 10)))
    (local.set $o (local.get $out))
    ;; a dot at the very start of a line that began in an earlier chunk
    (if (i32.and (local.get $atLineStart)
                 (i32.eq (i32.load8_u (i32.const 0)) (i32.const 46)))
      (then
        (i32.store8 (local.get $o) (i32.const 46))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))))
    (block $done
      (loop $scan
        ;; next LF at or after $i
        (local.set $mask
          (i8x16.bitmask (i8x16.eq (v128.load (local.get $i)) (local.get $lf))))
        (if (i32.eqz (local.get $mask))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br_if $scan (i32.lt_u (local.get $i) (local.get $n)))
            (br $done)))
        (local.set $j (i32.add (local.get $i) (i32.ctz (local.get $mask))))
        (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
        ;; a bare LF gets a CR before it
        (if (if (result i32) (local.get $j)
              (then (i32.ne (i32.load8_u (i32.sub (local.get $j) (i32.const 1)))
                            (i32.const 13)))
              (else (i32.eqz (local.get $prevCR))))
          (then
            (memory.copy (local.get $o) (local.get $seg)
                         (i32.sub (local.get $j) (local.get $seg)))
            (local.set $o (i32.add (local.get $o)
                                   (i32.sub (local.get $j) (local.get $seg))))
            (i32.store8 (local.get $o) (i32.const 13))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (local.set $seg (local.get $j))
            (local.set $crs (i32.add (local.get $crs) (i32.const 1)))))
        (local.set $i (i32.add (local.get $j) (i32.const 1)))
        ;; a dot that starts the next line gets a dot before it
        (if (i32.and (i32.lt_u (local.get $i) (local.get $n))
                     (i32.eq (i32.load8_u (local.get $i)) (i32.const 46)))
          (then
            (memory.copy (local.get $o) (local.get $seg)
                         (i32.sub (local.get $i) (local.get $seg)))
            (local.set $o (i32.add (local.get $o)
                                   (i32.sub (local.get $i) (local.get $seg))))
            (i32.store8 (local.get $o) (i32.const 46))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (local.set $seg (local.get $i))))
        (br_if $scan (i32.lt_u (local.get $i) (local.get $n)))))
    (memory.copy (local.get $o) (local.get $seg)
                 (i32.sub (local.get $n) (local.get $seg)))
    (local.set $o (i32.add (local.get $o) (i32.sub (local.get $n) (local.get $seg))))
    (global.set $crs (local.get $crs))
    (i32.sub (local.get $o) (local.get $out))))
