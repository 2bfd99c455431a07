-- SPDX-License-Identifier: Apache-2.0
-- 010_usage_totals.sql: usage_daily reads a table of daily totals that
-- triggers on usage_log keep, and usage_log's b-tree gives way to a BRIN.
--
-- Every inference request inserts a row into usage_log, so what PostgreSQL
-- does per row is paid on the request rate.  The (principal, ts) b-tree was
-- a third of it (COPY of the writers' 500-row batches: about 3.3 µs of CPU
-- a row with it, 2.3 µs with a BRIN on ts instead, 2.6 µs with the BRIN and
-- the totals trigger below), and it served only usage_daily, which
-- aggregated every row of usage_log at each read.  Now:
--
--   usage_daily_totals  one row per UTC day, principal and model: what
--                       usage_daily shows, read by the usage CLI and
--                       GET /v1/stackgate/usage without touching usage_log;
--   three statement-level triggers on usage_log (INSERT, UPDATE, DELETE,
--                       with transition tables) keep it exact for any
--                       change of usage_log's rows, the writers' COPY or an
--                       operator's own statements;
--   usage_maintain      also deletes the totals of the days it drops
--                       (006's function is usage_maintain_partitions now);
--   usage_totals_rebuild() recomputes them from usage_log, for what the
--                       triggers do not see: TRUNCATE, or a partition
--                       dropped or detached by hand.
--
-- Needs PostgreSQL 15 (UNIQUE NULLS NOT DISTINCT: anonymous requests have a
-- NULL principal).

-- No row is written while the triggers are made and the totals filled.
LOCK TABLE usage_log IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE usage_daily_totals (
	day date NOT NULL,
	principal text,
	model text NOT NULL,
	requests bigint NOT NULL,
	prompt_tokens bigint NOT NULL,
	completion_tokens bigint NOT NULL,
	total_tokens bigint NOT NULL,
	priced bigint NOT NULL,
	cost numeric NOT NULL,
	CONSTRAINT usage_daily_totals_key UNIQUE NULLS NOT DISTINCT (day, principal, model)
);
CREATE INDEX usage_daily_totals_principal ON usage_daily_totals (principal, day);

COMMENT ON TABLE usage_daily_totals IS
	'usage_log summed per UTC day, principal and model; kept by triggers on usage_log (usage_totals_apply)';
COMMENT ON COLUMN usage_daily_totals.priced IS 'how many of the rows had a cost; cost is their sum';

-- Adds the rows of `delta` (day, principal, model, requests, tokens…,
-- priced, cost; negative to take rows away) to the totals, in key order so
-- that concurrent writers lock the same rows in the same order, and drops
-- the totals that no row is left in.
CREATE FUNCTION usage_totals_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		UPDATE usage_daily_totals AS t
		SET requests = t.requests - o.requests, prompt_tokens = t.prompt_tokens - o.prompt_tokens,
			completion_tokens = t.completion_tokens - o.completion_tokens,
			total_tokens = t.total_tokens - o.total_tokens, priced = t.priced - o.priced, cost = t.cost - o.cost
		FROM (SELECT (ts AT TIME ZONE 'UTC')::date AS day, principal, model, count(*) AS requests,
				sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
				sum(total_tokens) AS total_tokens, count(cost) AS priced, coalesce(sum(cost), 0) AS cost
			FROM old_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3) AS o
		WHERE t.day = o.day AND t.principal IS NOT DISTINCT FROM o.principal AND t.model = o.model;
		DELETE FROM usage_daily_totals
		WHERE day IN (SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM old_rows) AND requests <= 0;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		INSERT INTO usage_daily_totals AS t
			(day, principal, model, requests, prompt_tokens, completion_tokens, total_tokens, priced, cost)
		SELECT (ts AT TIME ZONE 'UTC')::date, principal, model, count(*), sum(prompt_tokens),
			sum(completion_tokens), sum(total_tokens), count(cost), coalesce(sum(cost), 0)
		FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
		ON CONFLICT ON CONSTRAINT usage_daily_totals_key DO UPDATE
		SET requests = t.requests + excluded.requests, prompt_tokens = t.prompt_tokens + excluded.prompt_tokens,
			completion_tokens = t.completion_tokens + excluded.completion_tokens,
			total_tokens = t.total_tokens + excluded.total_tokens, priced = t.priced + excluded.priced,
			cost = t.cost + excluded.cost;
	END IF;
	RETURN NULL;
END;
$$;

CREATE TRIGGER usage_totals_insert AFTER INSERT ON usage_log
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_totals_apply();
CREATE TRIGGER usage_totals_update AFTER UPDATE ON usage_log
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_totals_apply();
CREATE TRIGGER usage_totals_delete AFTER DELETE ON usage_log
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_totals_apply();

-- Recomputes every total from usage_log; returns the number of totals.
CREATE FUNCTION usage_totals_rebuild() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	LOCK TABLE usage_log IN SHARE MODE;
	LOCK TABLE usage_daily_totals IN EXCLUSIVE MODE;
	DELETE FROM usage_daily_totals;
	INSERT INTO usage_daily_totals
		(day, principal, model, requests, prompt_tokens, completion_tokens, total_tokens, priced, cost)
	SELECT (ts AT TIME ZONE 'UTC')::date, principal, model, count(*), sum(prompt_tokens),
		sum(completion_tokens), sum(total_tokens), count(cost), coalesce(sum(cost), 0)
	FROM usage_log GROUP BY 1, 2, 3;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;

SELECT usage_totals_rebuild();

CREATE OR REPLACE VIEW usage_daily AS
SELECT day, principal, model, requests, prompt_tokens, completion_tokens, total_tokens,
	CASE WHEN priced > 0 THEN cost END AS cost
FROM usage_daily_totals;

COMMENT ON VIEW usage_daily IS
	'usage per UTC day, principal and model (usage_daily_totals); cost NULL when none of the rows had prices';

-- usage_maintain (006) keeps the partitions as before, under its own name,
-- and the totals of the days it drops go with them (under the same
-- advisory lock, which 006's function holds to the end of the transaction).
ALTER FUNCTION usage_maintain(integer, integer) RENAME TO usage_maintain_partitions;
CREATE FUNCTION usage_maintain(retention_days integer, ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	dropped integer := usage_maintain_partitions(retention_days, ahead);
BEGIN
	DELETE FROM usage_daily_totals WHERE day < (now() AT TIME ZONE 'UTC')::date - retention_days;
	RETURN dropped;
END;
$$;

-- What reads usage_log itself (a request's row, an incident's hour) bounds
-- ts: the day partitions prune and the BRIN narrows within a day.
DROP INDEX IF EXISTS usage_log_principal_ts;
CREATE INDEX usage_log_ts_brin ON usage_log USING brin (ts);
