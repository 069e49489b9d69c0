// Where exports are published: a local directory (CLI) or an S3 bucket (Lambda,
// local stack). Objects are write-once: publishing never overwrites.
export interface StoredObjectInfo {
  size: number;
  /** User metadata (S3 x-amz-meta-*), lower-case keys. */
  metadata: Record<string, string>;
}

export interface MetadataStore {
  /** Describe an object, or undefined when it does not exist. */
  head(key: string): Promise<StoredObjectInfo | undefined>;
  /** Read a whole object, or undefined when it does not exist. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Read an object as a stream (a restore of a large export), or undefined when it does not exist. */
  getStream(key: string): Promise<ReadableStream<Uint8Array> | undefined>;
  /**
   * Create an object only if no object exists at key (S3: If-None-Match: *).
   * Resolves 'exists' without writing when one is already there.
   */
  putIfAbsent(
    key: string,
    body: ReadableStream<Uint8Array> | Uint8Array,
    options: { contentType: string; metadata?: Record<string, string> },
  ): Promise<'written' | 'exists'>;
}
