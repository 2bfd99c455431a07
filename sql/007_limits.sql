-- SPDX-License-Identifier: Apache-2.0
-- 007_limits.sql: per-principal limits on inference (issue #14) and the
-- counters hosts share to enforce them (src/limits.h).
--
-- limits: one row per subject: a principal, optionally narrowed to one model
-- (the registry id) and/or one API key (api_keys.key_id).  A NULL value is no
-- limit of that kind.  An operator may write this table directly (stackgate
-- limit set|clear|list does the same); every host reads it at least once a
-- second, so a change takes effect within a second.  The principal is not a
-- foreign key: principals from an external auth service have no row in
-- principals.
--
-- limit_counters: what every host counted, per subject and window (minute,
-- UTC day, UTC month; win is the window's index since 1970: minutes, days,
-- months), added to by each host's sync once a second.  subject is the
-- 64-bit FNV-1a hash of principal, model and key_id (limits_subject_hash),
-- the same on every host; principal/model/key_id are there to read.  Rows of
-- past windows are deleted by the syncs.
--
-- limit_inflight: each host's requests in flight for the subjects whose row
-- sets max_concurrent, rewritten by the host's sync every second; a host
-- (hostname/master pid/start time) whose rows are older than 3 s no longer
-- counts (it stopped or cannot reach PostgreSQL), and rows older than an hour
-- are deleted.

CREATE TABLE limits (
	principal text NOT NULL CHECK (principal <> ''),
	model text CHECK (model <> ''),
	key_id text CHECK (key_id <> ''),
	max_concurrent integer CHECK (max_concurrent >= 0),
	rpm bigint CHECK (rpm >= 0),
	tpm bigint CHECK (tpm >= 0),
	tokens_per_day bigint CHECK (tokens_per_day >= 0),
	tokens_per_month bigint CHECK (tokens_per_month >= 0),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX limits_subject ON limits (principal, coalesce(model, ''), coalesce(key_id, ''));

COMMENT ON TABLE limits IS
	'per-principal inference limits, optionally per model and/or key; NULL: no limit of that kind; read by every host each second';
COMMENT ON COLUMN limits.max_concurrent IS 'requests in flight, across hosts (each sees the others as of their last sync)';
COMMENT ON COLUMN limits.rpm IS 'requests per minute (calendar minute), across hosts';
COMMENT ON COLUMN limits.tpm IS 'tokens per minute, across hosts: admitted while below, charged at the end';
COMMENT ON COLUMN limits.tokens_per_day IS 'tokens per UTC day, across hosts (429 insufficient_quota when spent)';
COMMENT ON COLUMN limits.tokens_per_month IS 'tokens per UTC month, across hosts (429 insufficient_quota when spent)';

CREATE TABLE limit_counters (
	subject bigint NOT NULL,
	period text NOT NULL CHECK (period IN ('minute', 'day', 'month')),
	win bigint NOT NULL,
	principal text NOT NULL,
	model text,
	key_id text,
	window_start timestamptz NOT NULL,
	requests bigint NOT NULL DEFAULT 0,
	tokens bigint NOT NULL DEFAULT 0,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (subject, period, win)
);
CREATE INDEX limit_counters_window ON limit_counters (period, win);

CREATE TABLE limit_inflight (
	host text NOT NULL,
	subject bigint NOT NULL,
	principal text NOT NULL,
	model text,
	key_id text,
	inflight bigint NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (host, subject)
);

COMMENT ON TABLE limit_inflight IS
	'requests in flight per host for the limits rows with a max_concurrent, written by each host every second; rows older than 3 s do not count';
COMMENT ON TABLE limit_counters IS
	'requests and tokens counted by all hosts per limits subject and window; each host adds its counts every second';
