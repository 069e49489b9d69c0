// One contract for every MetadataStore: the directory (CLI), memory and S3
// (fauxqs on 127.0.0.1, over HTTP) stores must behave alike, since the pipeline
// publishes into any of them through the same interface.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { sha256Hex } from '../../lib/codecs/hash.ts';
import { createS3Client, localConnection } from '../../lib/service/aws-clients.ts';
import { DirStore } from '../../lib/stores/dir-store.ts';
import { MemoryStore } from '../../lib/stores/memory-store.ts';
import { S3MetadataStore } from '../../lib/stores/s3-store.ts';
import type { MetadataStore } from '../../lib/stores/store.ts';
import { startLocalAwsServer, type LocalAwsServer } from '../../local/fauxqs-server.ts';
import { tempDir } from '../support/export-helpers.ts';

interface Subject {
  name: string;
  open(): Promise<{ store: MetadataStore; close(): Promise<void> }>;
}

let buckets = 0;
const SUBJECTS: Subject[] = [
  { name: 'MemoryStore', open: async () => ({ store: new MemoryStore(), close: async () => {} }) },
  {
    name: 'DirStore',
    open: async () => {
      const dir = tempDir('snapmeta-store-contract-');
      return { store: new DirStore(dir.path), close: async () => dir.remove() };
    },
  },
  {
    name: 'S3MetadataStore (fauxqs over HTTP)',
    open: async () => {
      const bucket = `contract-${++buckets}`;
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      // 5 MiB parts, S3's minimum: the 12 MiB body below goes up as a multipart upload.
      return { store: new S3MetadataStore(s3, bucket, { partSize: 5 * 1024 * 1024 }), close: async () => {} };
    },
  },
];

let server: LocalAwsServer;
let s3: S3Client;
before(async () => {
  server = await startLocalAwsServer();
  s3 = createS3Client(localConnection(server.endpoint));
});
after(async () => {
  s3.destroy();
  await server.close();
});

const META = { contentType: 'application/octet-stream', metadata: { 'source-sha256': 'abc', 'db-format': 'sql' } };
const bytesOf = (...values: number[]) => Buffer.from(values);
/** Whatever view a store returns, as a Buffer, so stores compare alike. */
const read = async (store: MetadataStore, key: string) => {
  const bytes = await store.get(key);
  return bytes && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};
const streamOf = (bytes: Uint8Array, piece = 1 << 20) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < bytes.byteLength; at += piece) controller.enqueue(bytes.slice(at, at + piece));
      controller.close();
    },
  });

for (const subject of SUBJECTS) {
  describe(`store contract: ${subject.name}`, () => {
    let store: MetadataStore;
    let close: () => Promise<void>;
    before(async () => ({ store, close } = await subject.open()));
    after(() => close());

    it('a missing key has no head and no body', async () => {
      assert.equal(await store.head('metadata/none/db.zst.age'), undefined);
      assert.equal(await store.get('metadata/none/db.zst.age'), undefined);
    });

    it('writes once: a second write of the key reports exists and changes nothing', async () => {
      const key = 'metadata/once/db.zst.age';
      assert.equal(await store.putIfAbsent(key, bytesOf(1, 2, 3), META), 'written');
      assert.equal(await store.putIfAbsent(key, bytesOf(9), { contentType: 'application/x-other', metadata: { 'source-sha256': 'other' } }), 'exists');
      assert.deepEqual(await read(store, key), bytesOf(1, 2, 3));
      assert.deepEqual(await store.head(key), { size: 3, metadata: META.metadata });
    });

    it('a streamed body of many pieces is stored byte for byte', async () => {
      const big = new Uint8Array(12 * 1024 * 1024).map((_, i) => (i * 7) % 251);
      assert.equal(await store.putIfAbsent('metadata/big/db.zst.age', streamOf(big), META), 'written');
      assert.equal(sha256Hex((await store.get('metadata/big/db.zst.age'))!), sha256Hex(big));
      assert.equal((await store.head('metadata/big/db.zst.age'))?.size, big.byteLength);
    });

    it('a stream reads what get reads; a missing key has no stream', async () => {
      const body = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => (i * 13) % 251);
      assert.equal(await store.putIfAbsent('metadata/streamed/db.zst.age', body, META), 'written');
      const stream = await store.getStream('metadata/streamed/db.zst.age');
      assert.equal(sha256Hex(new Uint8Array(await new Response(stream).arrayBuffer())), sha256Hex(body));
      assert.equal(await store.getStream('metadata/streamed/none'), undefined);
    });

    it('an empty object is an object', async () => {
      assert.equal(await store.putIfAbsent('metadata/empty/manifest.json.zst', new Uint8Array(0), META), 'written');
      assert.deepEqual(await store.head('metadata/empty/manifest.json.zst'), { size: 0, metadata: META.metadata });
    });

    it('two writers at once: exactly one is written, and what is stored is the winner\'s, metadata included', async () => {
      const key = 'metadata/race/db.zst.age';
      const outcomes = await Promise.all([1, 2].map((n) =>
        store.putIfAbsent(key, streamOf(new Uint8Array(64 * 1024).fill(n), 4096), { contentType: 'application/x-other', metadata: { 'source-sha256': `s${n}` } })));
      assert.deepEqual([...outcomes].sort(), ['exists', 'written']);
      const winner = outcomes.indexOf('written') + 1;
      assert.equal((await store.get(key))![0], winner);
      assert.equal((await store.head(key))?.metadata['source-sha256'], `s${winner}`);
    });

    it('a body that fails part way leaves no object behind', async () => {
      const key = 'metadata/broken/db.zst.age';
      const failing = new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(new Uint8Array(1024));
          controller.error(new Error('the dump failed'));
        },
      });
      await assert.rejects(store.putIfAbsent(key, failing, META), /the dump failed/);
      assert.equal(await store.head(key), undefined);
      assert.equal(await store.putIfAbsent(key, bytesOf(5), META), 'written', 'the key is still free');
    });

    it('keys keep their exact spelling: unicode, spaces, colons, plus signs', async () => {
      const key = 'vaultik/metadata/wéb 01_home+x_2026-11-13T03:00:03Z/db.zst.age';
      assert.equal(await store.putIfAbsent(key, bytesOf(7), META), 'written');
      assert.deepEqual(await read(store, key), bytesOf(7));
      assert.equal(await store.head(key.replace('+', ' ')), undefined);
    });
  });
}
