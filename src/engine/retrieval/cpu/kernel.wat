;; edgerec CPU retrieval kernel: a fused scan + bounded top-k over the item table, WASM SIMD.
;;
;; `gen-kernel.ts` assembles this file (with wabt) into four binaries, checked in beside it:
;;   kernel-simd.wasm, kernel-relaxed.wasm        one thread, the memory imported unshared
;;   kernel-simd-mt.wasm, kernel-relaxed-mt.wasm  the same, importing a shared memory (threads)
;; Lines between ";; @relaxed" and ";; @end" are kept only in the relaxed builds, lines between
;; ";; @simd" and ";; @end" only in the plain-SIMD builds; "@shared" is replaced by "shared" or by nothing.
;;
;; Arithmetic reproduces src/core/retrieval/reference.ts bit for bit:
;; - i8: the integer dot product is exact in any order; the score is f32(f32(dot) · rowScale) · queryScale,
;;   each product rounded to f32 (f32(dot) is exact while |dot| < 2^24, so for dim <= 1024).
;;   The plain build sign-extends each 16 table bytes to i16 and takes i32x4.dot_i16x8_s against the
;;   query pre-widened to i16. The relaxed build splits the query into q+ = max(q, 0) and q- = max(-q, 0),
;;   both in 0..127 (the "i7" operand, where i32x4.relaxed_dot_i8x16_i7x16_add_s is deterministic), and
;;   takes dot(x, q+) - dot(x, q-): one instruction each (vpdpbusd) with AVX-VNNI.
;; - f32: s = ((q0·x0 + q1·x1) + q2·x2) + … in dimension order; four rows share a vector (the table is
;;   blocked in sixteen-row blocks, dimension-major), so the sum order of each row is kept.
;;
;; Top-k: a min-heap of (f32 score, i32 row) entries, 8 bytes each, the worst at the root (lower score, or
;; equal score and higher row), kept across the scan calls of one query (`begin` empties it). The cheap
;; vector test "score >= threshold" picks the candidates; a candidate whose score equals the root's enters
;; a full heap only with a lower row, so the result does not depend on the order rows are offered in (the
;; f32 scan offers two parts of its range interleaved). Scores that are NaN or -Infinity never enter.
;; Excluded rows (bit set in the bitset) and rows past `end` (the zero padding to a multiple of four rows,
;; sixteen for f32) are dropped when they pass.
(module
  (import "env" "memory" (memory 1 65536 @shared))

  (global $thr (mut f32) (f32.const -inf))
  (global $size (mut i32) (i32.const 0))
  (global $k (mut i32) (i32.const 0))
  (global $heap (mut i32) (i32.const 0))
  (global $excl (mut i32) (i32.const -1))
  (global $end (mut i32) (i32.const 0))

  ;; Starts a query on this thread: an empty heap of capacity k (>= 1) at `heap`; excl: the exclusion
  ;; bitset's address, or -1. Then scan_i8 / scan_f32 over row ranges in increasing order fill it.
  (func (export "begin") (param $excl i32) (param $heap i32) (param $k i32)
    (global.set $thr (f32.const -inf))
    (global.set $size (i32.const 0))
    (global.set $k (local.get $k))
    (global.set $heap (local.get $heap))
    (global.set $excl (local.get $excl)))

  ;; Entry at address $a ranks below the entry at $b.
  (func $worse (param $a i32) (param $b i32) (result i32)
    (local $sa f32) (local $sb f32)
    (local.set $sa (f32.load (local.get $a)))
    (local.set $sb (f32.load (local.get $b)))
    (i32.or
      (f32.lt (local.get $sa) (local.get $sb))
      (i32.and
        (f32.eq (local.get $sa) (local.get $sb))
        (i32.gt_s (i32.load offset=4 (local.get $a)) (i32.load offset=4 (local.get $b))))))

  (func $siftUp (param $i i32)
    (local $p i32) (local $ei i32) (local $ep i32) (local $t i64)
    (block $done
      (loop $up
        (br_if $done (i32.eqz (local.get $i)))
        (local.set $p (i32.shr_u (i32.sub (local.get $i) (i32.const 1)) (i32.const 1)))
        (local.set $ei (i32.add (global.get $heap) (i32.shl (local.get $i) (i32.const 3))))
        (local.set $ep (i32.add (global.get $heap) (i32.shl (local.get $p) (i32.const 3))))
        (br_if $done (i32.eqz (call $worse (local.get $ei) (local.get $ep))))
        (local.set $t (i64.load (local.get $ei)))
        (i64.store (local.get $ei) (i64.load (local.get $ep)))
        (i64.store (local.get $ep) (local.get $t))
        (local.set $i (local.get $p))
        (br $up))))

  (func $siftDown
    (local $i i32) (local $c i32) (local $ei i32) (local $ec i32) (local $t i64)
    (loop $down
      (local.set $c (i32.add (i32.shl (local.get $i) (i32.const 1)) (i32.const 1)))
      (if (i32.ge_u (local.get $c) (global.get $size)) (then (return)))
      (local.set $ec (i32.add (global.get $heap) (i32.shl (local.get $c) (i32.const 3))))
      (if (i32.lt_u (i32.add (local.get $c) (i32.const 1)) (global.get $size))
        (then
          (if (call $worse (i32.add (local.get $ec) (i32.const 8)) (local.get $ec))
            (then
              (local.set $c (i32.add (local.get $c) (i32.const 1)))
              (local.set $ec (i32.add (local.get $ec) (i32.const 8)))))))
      (local.set $ei (i32.add (global.get $heap) (i32.shl (local.get $i) (i32.const 3))))
      (if (i32.eqz (call $worse (local.get $ec) (local.get $ei))) (then (return)))
      (local.set $t (i64.load (local.get $ei)))
      (i64.store (local.get $ei) (i64.load (local.get $ec)))
      (i64.store (local.get $ec) (local.get $t))
      (local.set $i (local.get $c))
      (br $down)))

  ;; Called for a row whose score passed the threshold.
  (func $offer (param $s f32) (param $row i32)
    (local $e i32)
    ;; (check4 passes scores >= the threshold, which starts at -Infinity: -Infinity itself never enters.)
    (if (f32.eq (local.get $s) (f32.const -inf)) (then (return)))
    (if (i32.ge_u (local.get $row) (global.get $end)) (then (return)))
    (if (i32.ne (global.get $excl) (i32.const -1))
      (then
        (if (i32.and
              (i32.shr_u
                (i32.load (i32.add (global.get $excl) (i32.shl (i32.shr_u (local.get $row) (i32.const 5)) (i32.const 2))))
                (local.get $row))
              (i32.const 1))
          (then (return)))))
    (if (i32.lt_u (global.get $size) (global.get $k))
      (then
        (local.set $e (i32.add (global.get $heap) (i32.shl (global.get $size) (i32.const 3))))
        (f32.store (local.get $e) (local.get $s))
        (i32.store offset=4 (local.get $e) (local.get $row))
        (call $siftUp (global.get $size))
        (global.set $size (i32.add (global.get $size) (i32.const 1)))
        (if (i32.eq (global.get $size) (global.get $k))
          (then (global.set $thr (f32.load (global.get $heap)))))
        (return)))
    ;; Full: the entry replaces the root if it ranks above it (a higher score, or an equal one and a lower row).
    (if (i32.and (f32.eq (local.get $s) (global.get $thr))
                 (i32.ge_s (local.get $row) (i32.load offset=4 (global.get $heap))))
      (then (return)))
    (f32.store (global.get $heap) (local.get $s))
    (i32.store offset=4 (global.get $heap) (local.get $row))
    (call $siftDown)
    (global.set $thr (f32.load (global.get $heap))))

  ;; Offers the four scores of rows r .. r+3 that pass the threshold.
  (func $check4 (param $v v128) (param $r i32)
    (if (i32.eqz (v128.any_true (f32x4.ge (local.get $v) (f32x4.splat (global.get $thr)))))
      (then (return)))
    (if (f32.ge (f32x4.extract_lane 0 (local.get $v)) (global.get $thr))
      (then (call $offer (f32x4.extract_lane 0 (local.get $v)) (local.get $r))))
    (if (f32.ge (f32x4.extract_lane 1 (local.get $v)) (global.get $thr))
      (then (call $offer (f32x4.extract_lane 1 (local.get $v)) (i32.add (local.get $r) (i32.const 1)))))
    (if (f32.ge (f32x4.extract_lane 2 (local.get $v)) (global.get $thr))
      (then (call $offer (f32x4.extract_lane 2 (local.get $v)) (i32.add (local.get $r) (i32.const 2)))))
    (if (f32.ge (f32x4.extract_lane 3 (local.get $v)) (global.get $thr))
      (then (call $offer (f32x4.extract_lane 3 (local.get $v)) (i32.add (local.get $r) (i32.const 3))))))

  ;; i8 rows [start, end), start a multiple of 4. Row r's bytes at rows + r·stride (stride a multiple of
  ;; 16, zero padded), its scale at scales + 4r; the table is zero padded to a multiple of 4 rows. The
  ;; query at q: per 16-byte chunk, 32 bytes (plain: the 16 values widened to i16; relaxed: q+ then q-).
  ;; Returns the number of entries in the heap (unsorted).
  (func (export "scan_i8")
    (param $rows i32) (param $scales i32) (param $stride i32) (param $start i32) (param $end i32)
    (param $q i32) (param $qscale f32) (result i32)
    (local $r i32) (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $off i32)
    (local $qp i32) (local $x v128) (local $qa v128) (local $qb v128) (local $qs v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $n0 v128) (local $n1 v128) (local $n2 v128) (local $n3 v128)
    (local $t v128) (local $u v128)
    (global.set $end (local.get $end))
    (local.set $qs (f32x4.splat (local.get $qscale)))
    (local.set $r (local.get $start))
    (local.set $p0 (i32.add (local.get $rows) (i32.mul (local.get $start) (local.get $stride))))
    (block $exit
      (loop $rowloop
        (br_if $exit (i32.ge_u (local.get $r) (local.get $end)))
        (local.set $p1 (i32.add (local.get $p0) (local.get $stride)))
        (local.set $p2 (i32.add (local.get $p1) (local.get $stride)))
        (local.set $p3 (i32.add (local.get $p2) (local.get $stride)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $n0 (v128.const i32x4 0 0 0 0))
        (local.set $n1 (v128.const i32x4 0 0 0 0))
        (local.set $n2 (v128.const i32x4 0 0 0 0))
        (local.set $n3 (v128.const i32x4 0 0 0 0))
        (local.set $off (i32.const 0))
        (local.set $qp (local.get $q))
        (loop $chunk
          (local.set $qa (v128.load (local.get $qp)))
          (local.set $qb (v128.load offset=16 (local.get $qp)))
;; @simd
          (local.set $x (v128.load (i32.add (local.get $p0) (local.get $off))))
          (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $x)) (local.get $qa))))
          (local.set $n0 (i32x4.add (local.get $n0) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $x)) (local.get $qb))))
          (local.set $x (v128.load (i32.add (local.get $p1) (local.get $off))))
          (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $x)) (local.get $qa))))
          (local.set $n1 (i32x4.add (local.get $n1) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $x)) (local.get $qb))))
          (local.set $x (v128.load (i32.add (local.get $p2) (local.get $off))))
          (local.set $a2 (i32x4.add (local.get $a2) (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $x)) (local.get $qa))))
          (local.set $n2 (i32x4.add (local.get $n2) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $x)) (local.get $qb))))
          (local.set $x (v128.load (i32.add (local.get $p3) (local.get $off))))
          (local.set $a3 (i32x4.add (local.get $a3) (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $x)) (local.get $qa))))
          (local.set $n3 (i32x4.add (local.get $n3) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $x)) (local.get $qb))))
;; @end
;; @relaxed
          (local.set $x (v128.load (i32.add (local.get $p0) (local.get $off))))
          (local.set $a0 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $x) (local.get $qa) (local.get $a0)))
          (local.set $n0 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $x) (local.get $qb) (local.get $n0)))
          (local.set $x (v128.load (i32.add (local.get $p1) (local.get $off))))
          (local.set $a1 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $x) (local.get $qa) (local.get $a1)))
          (local.set $n1 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $x) (local.get $qb) (local.get $n1)))
          (local.set $x (v128.load (i32.add (local.get $p2) (local.get $off))))
          (local.set $a2 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $x) (local.get $qa) (local.get $a2)))
          (local.set $n2 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $x) (local.get $qb) (local.get $n2)))
          (local.set $x (v128.load (i32.add (local.get $p3) (local.get $off))))
          (local.set $a3 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $x) (local.get $qa) (local.get $a3)))
          (local.set $n3 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $x) (local.get $qb) (local.get $n3)))
;; @end
          (local.set $qp (i32.add (local.get $qp) (i32.const 32)))
          (local.set $off (i32.add (local.get $off) (i32.const 16)))
          (br_if $chunk (i32.lt_u (local.get $off) (local.get $stride))))
;; @simd
        (local.set $a0 (i32x4.add (local.get $a0) (local.get $n0)))
        (local.set $a1 (i32x4.add (local.get $a1) (local.get $n1)))
        (local.set $a2 (i32x4.add (local.get $a2) (local.get $n2)))
        (local.set $a3 (i32x4.add (local.get $a3) (local.get $n3)))
;; @end
;; @relaxed
        (local.set $a0 (i32x4.sub (local.get $a0) (local.get $n0)))
        (local.set $a1 (i32x4.sub (local.get $a1) (local.get $n1)))
        (local.set $a2 (i32x4.sub (local.get $a2) (local.get $n2)))
        (local.set $a3 (i32x4.sub (local.get $a3) (local.get $n3)))
;; @end
        ;; Horizontal sums of a0..a3 into one vector: t = (a0₀+a0₂, a1₀+a1₂, a0₁+a0₃, a1₁+a1₃), u likewise
        ;; for a2, a3; then (t₀+t₂, t₁+t₃, u₀+u₂, u₁+u₃).
        (local.set $t (i32x4.add
          (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0) (local.get $a1))
          (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0) (local.get $a1))))
        (local.set $u (i32x4.add
          (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2) (local.get $a3))
          (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2) (local.get $a3))))
        (local.set $t (i32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t) (local.get $u))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t) (local.get $u))))
        (call $check4
          (f32x4.mul
            (f32x4.mul
              (f32x4.convert_i32x4_s (local.get $t))
              (v128.load (i32.add (local.get $scales) (i32.shl (local.get $r) (i32.const 2)))))
            (local.get $qs))
          (local.get $r))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (local.set $p0 (i32.add (local.get $p3) (local.get $stride)))
        (br $rowloop)))
    (global.get $size))

  ;; f32 rows [start, end), start a multiple of 16. The table is blocked in sixteen-row blocks, dimension-major:
  ;; block b (rows 16b .. 16b+15) at rows + 64·b·dim, element (row 16b+l, dimension d) at + 64d + 4l, zero
  ;; padded to a multiple of 16 rows. A block is one sequential stream (a 64-byte line per dimension: one
  ;; splat of q_d meets four vectors), which the prefetcher follows; four groups of four rows read as four
  ;; streams 1 KiB apart ran at half the bandwidth. The range is scanned as two halves side by side (block
  ;; j of the first half with block j of the second, eight accumulators, then an odd last block alone): two
  ;; streams far apart keep more cache misses in flight than one, and one core's scan of 1M × 64 went from
  ;; 23–26 ms to 19–21 ms in Node (four streams: 21 ms; a 32-row block with eight accumulators in one
  ;; stream: no gain). Each lane still sums its row in dimension order. The query: dim f32 at q.
  (func (export "scan_f32")
    (param $rows i32) (param $dim i32) (param $start i32) (param $end i32)
    (param $q i32) (result i32)
    (local $r i32) (local $rb i32) (local $p i32) (local $pb i32) (local $qp i32) (local $qend i32) (local $qv v128)
    (local $blockBytes i32) (local $half i32) (local $j i32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (global.set $end (local.get $end))
    (local.set $qend (i32.add (local.get $q) (i32.shl (local.get $dim) (i32.const 2))))
    (local.set $blockBytes (i32.shl (local.get $dim) (i32.const 6)))
    ;; Two streams: block j of the range's first half beside block j of its second half.
    (local.set $half (i32.shr_u (i32.shr_u (i32.add (i32.sub (local.get $end) (local.get $start)) (i32.const 15)) (i32.const 4)) (i32.const 1)))
    (local.set $r (local.get $start))
    (local.set $rb (i32.add (local.get $start) (i32.shl (local.get $half) (i32.const 4))))
    (local.set $p (i32.add (local.get $rows) (i32.mul (local.get $start) (i32.shl (local.get $dim) (i32.const 2)))))
    (local.set $pb (i32.add (local.get $p) (i32.mul (local.get $half) (local.get $blockBytes))))
    (local.set $j (i32.const 0))
    (block $pairsDone
      (loop $pairs
        (br_if $pairsDone (i32.ge_u (local.get $j) (local.get $half)))
        (local.set $s0 (v128.const i32x4 0 0 0 0))
        (local.set $s1 (v128.const i32x4 0 0 0 0))
        (local.set $s2 (v128.const i32x4 0 0 0 0))
        (local.set $s3 (v128.const i32x4 0 0 0 0))
        (local.set $t0 (v128.const i32x4 0 0 0 0))
        (local.set $t1 (v128.const i32x4 0 0 0 0))
        (local.set $t2 (v128.const i32x4 0 0 0 0))
        (local.set $t3 (v128.const i32x4 0 0 0 0))
        (local.set $qp (local.get $q))
        (loop $dims2
          (local.set $qv (v128.load32_splat (local.get $qp)))
          (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $qv) (v128.load offset=0 (local.get $p)))))
          (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $qv) (v128.load offset=16 (local.get $p)))))
          (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $qv) (v128.load offset=32 (local.get $p)))))
          (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $qv) (v128.load offset=48 (local.get $p)))))
          (local.set $t0 (f32x4.add (local.get $t0) (f32x4.mul (local.get $qv) (v128.load offset=0 (local.get $pb)))))
          (local.set $t1 (f32x4.add (local.get $t1) (f32x4.mul (local.get $qv) (v128.load offset=16 (local.get $pb)))))
          (local.set $t2 (f32x4.add (local.get $t2) (f32x4.mul (local.get $qv) (v128.load offset=32 (local.get $pb)))))
          (local.set $t3 (f32x4.add (local.get $t3) (f32x4.mul (local.get $qv) (v128.load offset=48 (local.get $pb)))))
          (local.set $p (i32.add (local.get $p) (i32.const 64)))
          (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
          (local.set $qp (i32.add (local.get $qp) (i32.const 4)))
          (br_if $dims2 (i32.lt_u (local.get $qp) (local.get $qend))))
        (call $check4 (local.get $s0) (i32.add (local.get $r) (i32.const 0)))
        (call $check4 (local.get $s1) (i32.add (local.get $r) (i32.const 4)))
        (call $check4 (local.get $s2) (i32.add (local.get $r) (i32.const 8)))
        (call $check4 (local.get $s3) (i32.add (local.get $r) (i32.const 12)))
        (call $check4 (local.get $t0) (i32.add (local.get $rb) (i32.const 0)))
        (call $check4 (local.get $t1) (i32.add (local.get $rb) (i32.const 4)))
        (call $check4 (local.get $t2) (i32.add (local.get $rb) (i32.const 8)))
        (call $check4 (local.get $t3) (i32.add (local.get $rb) (i32.const 12)))
        (local.set $r (i32.add (local.get $r) (i32.const 16)))
        (local.set $rb (i32.add (local.get $rb) (i32.const 16)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $pairs)))
    ;; An odd block left at the end of the range.
    (local.set $r (local.get $rb))
    (local.set $p (local.get $pb))
    (block $exit
      (loop $block
        (br_if $exit (i32.ge_u (local.get $r) (local.get $end)))
        (local.set $s0 (v128.const i32x4 0 0 0 0))
        (local.set $s1 (v128.const i32x4 0 0 0 0))
        (local.set $s2 (v128.const i32x4 0 0 0 0))
        (local.set $s3 (v128.const i32x4 0 0 0 0))
        (local.set $qp (local.get $q))
        (loop $dims
          (local.set $qv (v128.load32_splat (local.get $qp)))
          (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $qv) (v128.load offset=0 (local.get $p)))))
          (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $qv) (v128.load offset=16 (local.get $p)))))
          (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $qv) (v128.load offset=32 (local.get $p)))))
          (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $qv) (v128.load offset=48 (local.get $p)))))
          (local.set $p (i32.add (local.get $p) (i32.const 64)))
          (local.set $qp (i32.add (local.get $qp) (i32.const 4)))
          (br_if $dims (i32.lt_u (local.get $qp) (local.get $qend))))
        (call $check4 (local.get $s0) (i32.add (local.get $r) (i32.const 0)))
        (call $check4 (local.get $s1) (i32.add (local.get $r) (i32.const 4)))
        (call $check4 (local.get $s2) (i32.add (local.get $r) (i32.const 8)))
        (call $check4 (local.get $s3) (i32.add (local.get $r) (i32.const 12)))
        (local.set $r (i32.add (local.get $r) (i32.const 16)))
        (br $block)))
    (global.get $size))
)
