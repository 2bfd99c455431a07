-- SPDX-License-Identifier: Apache-2.0
-- 006_usage.sql: one row per inference request (chat, completions,
-- embeddings; streamed or not; failed ones too), written by each worker's
-- batching writer (usage.h), and the daily roll-up an operator reads.
--
-- usage_log is partitioned by UTC day (usage_log_pYYYYMMDD).  The writers
-- call usage_maintain() when they start and every hour: it creates the
-- partitions of yesterday through `ahead` days from today and drops those
-- older than `retention_days` (usage.retention_days), so retention never
-- DELETEs.  A row of a day without a partition (a clock far off) fails, and
-- the writer runs usage_maintain() again before it retries.
--
-- Tokens are the upstream's usage; when it never came (a cut stream, an
-- upstream without usage, an error) they are the estimate (request and
-- reply bytes / 4) and estimated is true.  cost is in the model's price unit
-- (metadata.input_cost_per_mtok / output_cost_per_mtok, or the same keys of
-- the config's model entry), NULL when the model has no prices.

CREATE TABLE usage_log (
	ts timestamptz NOT NULL,
	request_id text NOT NULL,
	principal text,
	key_id text,
	model text NOT NULL,
	provider_id text,
	route text NOT NULL,
	status integer NOT NULL,
	streamed boolean NOT NULL,
	prompt_tokens bigint NOT NULL,
	completion_tokens bigint NOT NULL,
	total_tokens bigint NOT NULL,
	estimated boolean NOT NULL,
	latency_ms double precision NOT NULL,
	ttft_ms double precision,
	upstream_ms double precision,
	upstream_status integer,
	cost numeric
) PARTITION BY RANGE (ts);

CREATE INDEX usage_log_principal_ts ON usage_log (principal, ts);
CREATE INDEX usage_log_model_ts ON usage_log (model, ts);

COMMENT ON TABLE usage_log IS
	'one row per inference request; partitioned by UTC day, old partitions dropped after usage.retention_days';
COMMENT ON COLUMN usage_log.principal IS 'the caller; NULL when anonymous';
COMMENT ON COLUMN usage_log.key_id IS 'the stackgate API key that authenticated the request; NULL when none';
COMMENT ON COLUMN usage_log.model IS 'the registry id the client asked for';
COMMENT ON COLUMN usage_log.route IS 'the path the request came in on, e.g. /v1/openai/v1/chat/completions';
COMMENT ON COLUMN usage_log.status IS 'the HTTP status stackgate answered';
COMMENT ON COLUMN usage_log.estimated IS
	'true: no usage came from the upstream; tokens are request bytes / 4 and reply bytes / 4';
COMMENT ON COLUMN usage_log.latency_ms IS 'from the request''s start to its end at stackgate';
COMMENT ON COLUMN usage_log.ttft_ms IS 'streams: from the request''s start to the first event; NULL otherwise';
COMMENT ON COLUMN usage_log.upstream_ms IS 'from the upstream call''s start to its last byte; NULL when no call was made';
COMMENT ON COLUMN usage_log.cost IS
	'prompt_tokens * input_cost_per_mtok / 1e6 + completion_tokens * output_cost_per_mtok / 1e6; NULL: no prices';

-- Creates the day partitions from yesterday to `ahead` days after today (UTC)
-- and drops those whose day is more than retention_days before today.
-- Returns the number of partitions dropped.  Concurrent callers (every
-- worker of every host) take turns on an advisory lock.
CREATE FUNCTION usage_maintain(retention_days integer, ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	today date := (now() AT TIME ZONE 'UTC')::date;
	d date;
	part record;
	dropped integer := 0;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('stackgate usage_maintain'));
	FOR d IN SELECT g::date FROM generate_series(today - 1, today + greatest(ahead, 0), interval '1 day') g LOOP
		EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF usage_log FOR VALUES FROM (%L) TO (%L)',
			'usage_log_p' || to_char(d, 'YYYYMMDD'),
			(d::timestamp AT TIME ZONE 'UTC'), ((d + 1)::timestamp AT TIME ZONE 'UTC'));
	END LOOP;
	FOR part IN
		SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'usage_log'::regclass AND c.relname ~ '^usage_log_p[0-9]{8}$'
		  AND to_date(substr(c.relname, 12), 'YYYYMMDD') < today - retention_days
	LOOP
		EXECUTE format('DROP TABLE %I', part.relname);
		dropped := dropped + 1;
	END LOOP;
	RETURN dropped;
END;
$$;

SELECT usage_maintain(90, 7);

CREATE VIEW usage_daily AS
SELECT (ts AT TIME ZONE 'UTC')::date AS day, principal, model, count(*) AS requests,
	sum(prompt_tokens)::bigint AS prompt_tokens, sum(completion_tokens)::bigint AS completion_tokens,
	sum(total_tokens)::bigint AS total_tokens, sum(cost) AS cost
FROM usage_log
GROUP BY 1, 2, 3;

COMMENT ON VIEW usage_daily IS
	'usage per UTC day, principal and model; cost NULL when none of the rows had prices';
