-- SPDX-License-Identifier: Apache-2.0
-- 009_usage_index.sql: usage_log keeps one index, (principal, ts).
--
-- Every inference request inserts a row, so every index of usage_log is
-- paid on the request rate.  The (model, ts) index cost about 2 µs of
-- PostgreSQL CPU per row (COPY of the writers' batches: 7.5-8 µs a row
-- with it, 5.5-6.3 µs without, on the 2-core machine of the README's
-- benchmarks), while what reads usage_log by model (usage_daily filtered
-- by model, `stackgate usage --model`) also bounds ts, which prunes the
-- day partitions; within a day it scans.  An operator who reports by model
-- over long spans can add the index again on usage_log (it propagates to
-- every partition).

DROP INDEX IF EXISTS usage_log_model_ts;
