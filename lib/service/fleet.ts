// The fleet as its receipts show it: which hosts published what, and when.
// Receipts live in the staging bucket, one per upload, under
// processed/<host>/<snapshot-id>.json; a listing gives every host's newest
// export without reading a single receipt.
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { RECEIPT_FOLDERS, type ReceiptFolder } from '../core/keys.ts';
import type { Receipt } from './receipts.ts';

export interface ReceiptEntry {
  host: string;
  snapshotId: string;
  key: string;
  at: Date;
}

export interface HostStatus {
  host: string;
  /** Newest publication (receipt time); undefined when the host only has rejections. */
  lastPublished?: ReceiptEntry;
  published: number;
  lastRejected?: ReceiptEntry;
  rejected: number;
  /** Hours since the newest publication, or since the newest rejection when none was published. */
  silentHours: number;
}

/** Every receipt of one folder (processed or rejected), optionally of one host, from the listing alone. */
export async function listReceipts(s3: S3Client, bucket: string, folder: ReceiptFolder, host?: string): Promise<ReceiptEntry[]> {
  const entries: ReceiptEntry[] = [];
  let token: string | undefined;
  do {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${folder}/${host ? `${host}/` : ''}`, ContinuationToken: token }));
    for (const object of out.Contents ?? []) {
      const entry = entryOf(object.Key!, folder, object.LastModified ?? new Date(0));
      if (entry) entries.push(entry);
    }
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return entries;
}

function entryOf(key: string, folder: string, at: Date): ReceiptEntry | undefined {
  // processed/<host>/<snapshot-id>.json; keys too malformed for a host sit one level up.
  const match = new RegExp(`^${folder}/([^/]+)/(.+)\\.json$`).exec(key);
  return match ? { host: match[1], snapshotId: match[2], key, at } : undefined;
}

/** Every host with a receipt: those that never published first, then the one silent longest. */
export async function fleetStatus(s3: S3Client, bucket: string, now = new Date()): Promise<HostStatus[]> {
  const [processed, rejected] = await Promise.all(RECEIPT_FOLDERS.map((folder) => listReceipts(s3, bucket, folder)));
  const hosts = new Map<string, HostStatus>();
  const statusOf = (host: string) => hosts.get(host) ?? hosts.set(host, { host, published: 0, rejected: 0, silentHours: 0 }).get(host)!;
  for (const entry of processed) {
    const status = statusOf(entry.host);
    status.published++;
    if (!status.lastPublished || entry.at > status.lastPublished.at) status.lastPublished = entry;
  }
  for (const entry of rejected) {
    const status = statusOf(entry.host);
    status.rejected++;
    if (!status.lastRejected || entry.at > status.lastRejected.at) status.lastRejected = entry;
  }
  for (const status of hosts.values()) {
    const last = status.lastPublished ?? status.lastRejected!;
    status.silentHours = (now.getTime() - last.at.getTime()) / 3_600_000;
  }
  const neverPublished = (status: HostStatus) => (status.lastPublished ? 0 : 1);
  return [...hosts.values()].sort((a, b) => neverPublished(b) - neverPublished(a) || b.silentHours - a.silentHours || a.host.localeCompare(b.host));
}

/** Hosts whose newest export is older than `hours` (hosts that never published count too). */
export const silentHosts = (fleet: HostStatus[], hours: number) =>
  fleet.filter((status) => !status.lastPublished || status.silentHours > hours);

/** The receipts themselves, newest first, for the entries given. */
export async function readReceipts(s3: S3Client, bucket: string, entries: ReceiptEntry[]): Promise<Receipt[]> {
  const newest = [...entries].sort((a, b) => b.at.getTime() - a.at.getTime());
  return Promise.all(newest.map(async (entry) => {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: entry.key }));
    return JSON.parse(await out.Body!.transformToString('utf8')) as Receipt;
  }));
}
