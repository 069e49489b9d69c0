// A MetadataStore in memory: the reference the other stores are held to in the
// contract suite, and a store for tests and dry runs that need no disk or S3.
import type { MetadataStore, StoredObjectInfo } from './store.ts';

interface StoredObject {
  bytes: Uint8Array;
  contentType: string;
  metadata: Record<string, string>;
}

export class MemoryStore implements MetadataStore {
  private readonly objects = new Map<string, StoredObject>();

  async head(key: string): Promise<StoredObjectInfo | undefined> {
    const found = this.objects.get(key);
    return found && { size: found.bytes.byteLength, metadata: { ...found.metadata } };
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.objects.get(key)?.bytes.slice();
  }

  async getStream(key: string): Promise<ReadableStream<Uint8Array> | undefined> {
    const bytes = await this.get(key);
    return bytes && new Blob([bytes as Uint8Array<ArrayBuffer>]).stream();
  }

  /** The body is read whole before the key is claimed, as S3 decides at the end of an upload. */
  async putIfAbsent(
    key: string,
    body: ReadableStream<Uint8Array> | Uint8Array,
    options: { contentType: string; metadata?: Record<string, string> },
  ): Promise<'written' | 'exists'> {
    const bytes = body instanceof Uint8Array ? body.slice() : new Uint8Array(await new Response(body).arrayBuffer());
    if (this.objects.has(key)) return 'exists';
    const metadata = Object.fromEntries(Object.entries(options.metadata ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
    this.objects.set(key, { bytes, contentType: options.contentType, metadata });
    return 'written';
  }

  /** Every key, sorted, for tests that look at what was written. */
  keys(): string[] {
    return [...this.objects.keys()].sort();
  }
}
