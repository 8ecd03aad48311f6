// Numbered schema migrations. Append only: a released migration is never edited.

/** SQL of each schema version, applied in order inside one transaction per step. */
export const MIGRATIONS: readonly string[] = [
  // 1: systems, their MACs, build tokens, install events, DHCP leases.
  `
  CREATE TABLE systems (
    name TEXT PRIMARY KEY,
    ip TEXT UNIQUE,
    hostname TEXT,
    profile TEXT,
    overrides TEXT NOT NULL DEFAULT '{}',
    build INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    stage TEXT,
    run INTEGER NOT NULL DEFAULT 0,
    token TEXT,
    token_expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    state_changed_at INTEGER NOT NULL,
    last_event_at INTEGER
  );
  CREATE TABLE system_macs (
    mac TEXT PRIMARY KEY,
    system TEXT NOT NULL REFERENCES systems(name) ON DELETE CASCADE ON UPDATE CASCADE,
    position INTEGER NOT NULL
  );
  CREATE INDEX system_macs_system ON system_macs(system);
  CREATE TABLE tokens (
    token TEXT PRIMARY KEY,
    system TEXT NOT NULL REFERENCES systems(name) ON DELETE CASCADE ON UPDATE CASCADE,
    run INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    retired_at INTEGER
  );
  CREATE INDEX tokens_system ON tokens(system);
  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    system TEXT NOT NULL REFERENCES systems(name) ON DELETE CASCADE ON UPDATE CASCADE,
    run INTEGER NOT NULL,
    time INTEGER NOT NULL,
    stage TEXT NOT NULL,
    message TEXT,
    source TEXT,
    log TEXT
  );
  CREATE INDEX events_system ON events(system, id);
  CREATE TABLE leases (
    mac TEXT PRIMARY KEY,
    ip TEXT NOT NULL,
    hostname TEXT,
    state TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX leases_ip ON leases(ip);
  `,
  // 2: a system's display name (mixed case, as the operator wrote it); name stays the lowercase slug.
  `
  ALTER TABLE systems ADD COLUMN display_name TEXT;
  `,
  // 3: per-system power settings (power control); the secret column holds a sealed value.
  `
  CREATE TABLE power_settings (
    system TEXT PRIMARY KEY REFERENCES systems(name) ON DELETE CASCADE ON UPDATE CASCADE,
    driver TEXT,
    address TEXT,
    username TEXT,
    secret TEXT,
    options TEXT NOT NULL DEFAULT '{}',
    updated_at INTEGER NOT NULL
  );
  `,
  // 4: the address a run is bound to (trust model); systems counted by state as they change, so
  // /metrics and the fleet counts read a handful of rows however many systems there are; stalled
  // systems (quiet installs, and armed ones quiet since pxe) found by index; events counted per run (caps).
  `
  ALTER TABLE tokens ADD COLUMN bound_ip TEXT;
  CREATE TABLE system_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL);
  INSERT INTO system_counts (state, n) SELECT state, COUNT(*) FROM systems GROUP BY state;
  CREATE TRIGGER systems_counted_insert AFTER INSERT ON systems BEGIN
    INSERT INTO system_counts (state, n) VALUES (NEW.state, 1) ON CONFLICT (state) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER systems_counted_delete AFTER DELETE ON systems BEGIN
    UPDATE system_counts SET n = n - 1 WHERE state = OLD.state;
  END;
  CREATE TRIGGER systems_counted_update AFTER UPDATE OF state ON systems WHEN OLD.state IS NOT NEW.state BEGIN
    UPDATE system_counts SET n = n - 1 WHERE state = OLD.state;
    INSERT INTO system_counts (state, n) VALUES (NEW.state, 1) ON CONFLICT (state) DO UPDATE SET n = n + 1;
  END;
  CREATE INDEX systems_quiet ON systems(state, COALESCE(last_event_at, state_changed_at));
  CREATE INDEX systems_pxe_quiet ON systems(COALESCE(last_event_at, state_changed_at)) WHERE state = 'build' AND stage = 'pxe';
  CREATE INDEX events_run ON events(system, run, stage);
  `,
  // 5: leases keyed by address, as in PostgreSQL: the database itself holds one lease per address
  // (keeping the newest row where an address had moved between clients), and the table is bounded
  // by the pool instead of by every MAC ever seen.
  `
  CREATE TABLE leases_by_ip (
    ip TEXT PRIMARY KEY,
    mac TEXT NOT NULL,
    hostname TEXT,
    state TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  INSERT INTO leases_by_ip (ip, mac, hostname, state, expires_at, updated_at)
    SELECT ip, mac, hostname, state, expires_at, updated_at FROM leases l
    WHERE NOT EXISTS (SELECT 1 FROM leases n WHERE n.ip = l.ip AND (n.updated_at > l.updated_at OR (n.updated_at = l.updated_at AND n.mac > l.mac)));
  DROP TABLE leases;
  ALTER TABLE leases_by_ip RENAME TO leases;
  CREATE INDEX leases_mac ON leases(mac);
  `,
];
