-- failoverd: the lease tables (failoverd(8), "Roles and the lease").
-- heartbeatd creates them itself when its role may; otherwise a DBA
-- applies this file, then the GRANTs at its end (role "failover").

CREATE TABLE IF NOT EXISTS failover_lease (
	cluster		text PRIMARY KEY,
	holder		text,
	token		uuid,
	epoch		bigint NOT NULL DEFAULT 0,
	beat		bigint NOT NULL DEFAULT 0,
	handover_to	text,
	lease_ms	integer NOT NULL,
	changed_at	timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS failover_node (
	cluster		text,
	node		text,
	role		text NOT NULL,
	token		uuid,
	beat		bigint NOT NULL DEFAULT 0,
	seen_at		timestamptz,
	PRIMARY KEY (cluster, node)
);

CREATE TABLE IF NOT EXISTS failover_event (
	id		bigserial PRIMARY KEY,
	cluster		text NOT NULL,
	node		text,
	epoch		bigint,
	event		text NOT NULL,
	detail		text,
	at		timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- failoverctl history reads a cluster's events in pages of id
CREATE INDEX IF NOT EXISTS failover_event_cluster_id
	ON failover_event (cluster, id);

-- NOTIFY is only a hint to read the row now.
CREATE OR REPLACE FUNCTION failover_lease_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.holder IS DISTINCT FROM OLD.holder OR
	    NEW.epoch IS DISTINCT FROM OLD.epoch OR
	    NEW.handover_to IS DISTINCT FROM OLD.handover_to THEN
		PERFORM pg_notify('failover_lease', NEW.cluster);
	END IF;
	RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS failover_lease_notify ON failover_lease;
CREATE TRIGGER failover_lease_notify AFTER UPDATE ON failover_lease
	FOR EACH ROW EXECUTE FUNCTION failover_lease_notify();

GRANT SELECT, INSERT, UPDATE ON failover_lease, failover_node TO failover;
GRANT SELECT, INSERT ON failover_event TO failover;
GRANT USAGE ON SEQUENCE failover_event_id_seq TO failover;
