-- SPDX-License-Identifier: Apache-2.0
-- 008_routing.sql: several deployments per model, its routing and its
-- fallbacks (router.h), and what usage_log records of the attempts.
--
-- The API writes a model's deployments as models.deployments (jsonb, NULL
-- when the model has the one deployment provider_id / provider_resource_id),
-- which is what stackgate reads; a trigger keeps model_deployments, one row
-- per deployment, in step with it, so an operator can query and join them
-- with referential integrity: a row goes with its model (ON DELETE CASCADE)
-- and with its provider when that leaves the configuration (the providers
-- mirror).  Edit deployments through the API, not this table.

ALTER TABLE models
	ADD COLUMN deployments jsonb CHECK (deployments IS NULL OR jsonb_typeof(deployments) = 'array'),
	ADD COLUMN routing text CHECK (routing IN ('weighted', 'least-busy', 'ordered')),
	ADD COLUMN fallbacks text[];
COMMENT ON COLUMN models.deployments IS
	'[{provider_id, provider_model_id, weight}]; NULL: the one deployment provider_id / provider_resource_id';
COMMENT ON COLUMN models.routing IS 'how a request picks a deployment; NULL: weighted';
COMMENT ON COLUMN models.fallbacks IS 'models tried in order when every deployment failed (not transitively)';

CREATE TABLE model_deployments (
	model_id text NOT NULL REFERENCES models (identifier) ON DELETE CASCADE,
	position integer NOT NULL CHECK (position > 0),
	api text NOT NULL DEFAULT 'inference' CHECK (api = 'inference'),
	provider_id text NOT NULL,
	provider_model_id text NOT NULL,
	weight integer NOT NULL DEFAULT 1 CHECK (weight > 0),
	PRIMARY KEY (model_id, position),
	FOREIGN KEY (api, provider_id) REFERENCES providers (api, provider_id) ON DELETE CASCADE
);
CREATE INDEX model_deployments_provider ON model_deployments (provider_id);
COMMENT ON TABLE model_deployments IS
	'one row per deployment of a model, kept by trigger from models.deployments (read-only for operators)';

-- Rewrites the model's rows from its columns.  A deployment whose provider is
-- not (or no longer) configured has no row, rather than failing the write.
CREATE FUNCTION sg_model_deployments_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM model_deployments WHERE model_id = NEW.identifier;
	INSERT INTO model_deployments (model_id, position, provider_id, provider_model_id, weight)
	SELECT NEW.identifier, d.position, d.provider_id, d.provider_model_id, d.weight
	FROM (
		SELECT ord::integer AS position, e ->> 'provider_id' AS provider_id,
		       e ->> 'provider_model_id' AS provider_model_id,
		       coalesce(CASE WHEN jsonb_typeof(e -> 'weight') = 'number' THEN (e ->> 'weight')::integer END, 1)
			       AS weight
		FROM jsonb_array_elements(NEW.deployments) WITH ORDINALITY AS x(e, ord)
		WHERE NEW.deployments IS NOT NULL AND jsonb_array_length(NEW.deployments) > 0
		UNION ALL
		SELECT 1, NEW.provider_id, coalesce(NEW.provider_resource_id, NEW.identifier), 1
		WHERE NEW.deployments IS NULL OR jsonb_array_length(NEW.deployments) = 0
	) AS d
	WHERE d.provider_id IS NOT NULL AND d.provider_model_id IS NOT NULL
	  AND EXISTS (SELECT 1 FROM providers AS p WHERE p.api = 'inference' AND p.provider_id = d.provider_id);
	RETURN NULL;
END
$$;
CREATE TRIGGER models_deployments AFTER INSERT OR UPDATE OF deployments, provider_id, provider_resource_id ON models
	FOR EACH ROW EXECUTE FUNCTION sg_model_deployments_sync();

INSERT INTO model_deployments (model_id, position, provider_id, provider_model_id, weight)
SELECT m.identifier, 1, m.provider_id, coalesce(m.provider_resource_id, m.identifier), 1
FROM models AS m
WHERE EXISTS (SELECT 1 FROM providers AS p WHERE p.api = 'inference' AND p.provider_id = m.provider_id);

-- What a request's routing did: how many upstream attempts it made, and the
-- model and deployment that served it (the last one tried when none did).
ALTER TABLE usage_log
	ADD COLUMN attempts integer NOT NULL DEFAULT 1,
	ADD COLUMN served_model text,
	ADD COLUMN provider_model_id text;
COMMENT ON COLUMN usage_log.attempts IS
	'upstream attempts made for the request (retries and fallbacks included); 0: none; 1 for rows before 008';
COMMENT ON COLUMN usage_log.served_model IS
	'the registry id of the model that served (a fallback, or model itself); NULL when no call was made';
COMMENT ON COLUMN usage_log.provider_model_id IS 'the upstream''s name of the deployment that served';
