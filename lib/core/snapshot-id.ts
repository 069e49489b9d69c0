// Snapshot ids as vaultik-style agents write them, and which host one names.
// Metadata is write-once, so an id published by the wrong host would block the
// real owner for ever: the service publishes an id only for the host it names.
//
//   <short>_<name>_<RFC 3339 UTC>   today's agents: web-01_home_2026-11-13T03:00:03Z
//   <host>_<RFC 3339 UTC>           older agents:   web-01.example.org_2026-11-13T03:00:03Z
//   <short>-YYYYMMDD-HHMMSS[Z]      the seed's:     web-01-20261113-030003Z
//
// <short> is the hostname cut at its first dot. A name may hold '_' and '.'.
import { SnapmetaError } from './errors.ts';

const RFC3339_UTC = /_(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)$/;
const SEED_TIME = /-(\d{8}-\d{6}Z?)$/;

export type SnapshotIdForm = 'named' | 'host-time' | 'seed';

export interface NamedSnapshotId {
  form: SnapshotIdForm;
  /** The host part as written in the id. */
  host: string;
  /** The snapshot's name (named form only). */
  name?: string;
  time: string;
}

/** The short name of a host: its name up to the first dot. */
export const shortHostName = (hostname: string) => hostname.split('.')[0];

/**
 * Reads `id` as an id of host `hostname` (the snapshot row's). The id names
 * that host when, before its time suffix, it is the host (full or short) alone,
 * or the short name followed by '_' and a name. Undefined when the id has no
 * time suffix of a known form, or names some other host.
 */
export function idOfHost(id: string, hostname: string): NamedSnapshotId | undefined {
  const short = shortHostName(hostname);
  const rfc = RFC3339_UTC.exec(id);
  if (rfc) {
    const head = id.slice(0, rfc.index);
    if (head === hostname || head === short) return { form: 'host-time', host: head, time: rfc[1] };
    if (head.startsWith(`${short}_`)) {
      return { form: 'named', host: short, name: head.slice(short.length + 1), time: rfc[1] };
    }
    return undefined;
  }
  const seed = SEED_TIME.exec(id);
  if (seed) {
    const head = id.slice(0, seed.index);
    return head === hostname || head === short ? { form: 'seed', host: head, time: seed[1] } : undefined;
  }
  return undefined;
}

/** Whether `id` has the time suffix of a known form, i.e. claims to name some host. */
export function namesAHost(id: string): boolean {
  const rfc = RFC3339_UTC.exec(id);
  if (rfc) return rfc.index > 0;
  const seed = SEED_TIME.exec(id);
  return seed !== null && seed.index > 0;
}

/** The host an id claims at face value (what precedes the first '_', or the seed form's date), for messages. */
export function claimedHost(id: string): string | undefined {
  const rfc = RFC3339_UTC.exec(id);
  if (rfc && rfc.index > 0) return id.slice(0, rfc.index).split('_')[0];
  const seed = SEED_TIME.exec(id);
  return seed && seed.index > 0 ? id.slice(0, seed.index) : undefined;
}

/**
 * Hosts publish only their own snapshots: the snapshot was taken on the key's
 * host (its full or short name), and its id names that host too, so no host
 * can claim, and with write-once metadata block for ever, another host's id.
 */
export function checkOwnership(staged: { host: string; snapshotId: string }, snapshot: { id: string; hostname: string }, allowUnnamed: boolean): void {
  const { id, hostname } = snapshot;
  if (id !== staged.snapshotId) {
    throw new SnapmetaError('SNAPSHOT_MISMATCH', `the key names snapshot ${JSON.stringify(staged.snapshotId)} but the database holds ${JSON.stringify(id)}`);
  }
  if (hostname !== staged.host && shortHostName(hostname) !== staged.host) {
    throw new SnapmetaError(
      'HOST_MISMATCH',
      `snapshot ${JSON.stringify(id)} was taken on ${JSON.stringify(hostname)}, which is not host ${JSON.stringify(staged.host)} of the upload key`,
    );
  }
  if (idOfHost(id, hostname)) return;
  if (namesAHost(id)) {
    throw new SnapmetaError('HOST_MISMATCH', `snapshot id ${JSON.stringify(id)} names host ${JSON.stringify(claimedHost(id))}, not ${JSON.stringify(shortHostName(hostname))} (${hostname}) of this upload`);
  }
  if (!allowUnnamed) {
    throw new SnapmetaError('UNNAMED_SNAPSHOT_ID', `snapshot id ${JSON.stringify(id)} names no host: expected ${shortHostName(hostname)}_<name>_<RFC 3339 UTC time>, ${hostname}_<time> or ${shortHostName(hostname)}-YYYYMMDD-HHMMSSZ; a deployment with one host may publish such ids with SNAPMETA_ALLOW_UNNAMED_IDS=true`);
  }
}
