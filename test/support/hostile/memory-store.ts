// A write-once MetadataStore in memory, for tests that publish many exports
// and only need to read them back.
import type { MetadataStore, StoredObjectInfo } from '../../../lib/stores/store.ts';

export class MemoryStore implements MetadataStore {
  readonly objects = new Map<string, { body: Uint8Array; metadata: Record<string, string> }>();

  async head(key: string): Promise<StoredObjectInfo | undefined> {
    const o = this.objects.get(key);
    return o && { size: o.body.byteLength, metadata: { ...o.metadata } };
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.objects.get(key)?.body;
  }

  async putIfAbsent(key: string, body: ReadableStream<Uint8Array> | Uint8Array, options: { metadata?: Record<string, string> }): Promise<'written' | 'exists'> {
    if (this.objects.has(key)) return 'exists';
    const bytes = body instanceof Uint8Array ? body : new Uint8Array(await new Response(body).arrayBuffer());
    if (this.objects.has(key)) return 'exists';
    this.objects.set(key, { body: bytes, metadata: { ...(options.metadata ?? {}) } });
    return 'written';
  }
}
