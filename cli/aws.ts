// How the CLI reaches AWS, or an S3/SQS-compatible server such as the local
// stack: one --endpoint rule for every command, and s3:// locations.
import { isIP } from 'node:net';
import { SnapmetaError } from '../lib/core/errors.ts';
import { connectionFromEnv, createS3Client, createSqsClient, localConnection, type AwsConnection } from '../lib/service/aws-clients.ts';

export const ENDPOINT_HELP = `  --endpoint <url>     an S3/SQS-compatible endpoint, path-style (default: AWS, or $AWS_ENDPOINT_URL);
                       a loopback URL is taken for the local stack and needs no credentials`;

/** An explicit endpoint is an S3-compatible server (path-style); a loopback one is the local stack. */
export function connectionFor(endpoint: string | undefined, service: 'S3' | 'SQS' = 'S3'): AwsConnection {
  if (!endpoint) return connectionFromEnv(service);
  if (isLoopback(endpoint)) return localConnection(endpoint);
  return { ...connectionFromEnv(service), endpoint, forcePathStyle: true };
}

export function isLoopback(endpoint: string): boolean {
  const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || (isIP(host) !== 0 && /^(127\.|::1$)/.test(host));
}

/** A resource named on the command line, else in the environment, else the local stack's when the endpoint is a loopback one. */
export function givenOrDefault(given: string | undefined, fromEnv: string | undefined, localName: string, endpoint: string | undefined): string | undefined {
  return given ?? (fromEnv || (endpoint && isLoopback(endpoint) ? localName : undefined));
}

export const s3For = (endpoint: string | undefined) => createS3Client(connectionFor(endpoint, 'S3'));
export const sqsFor = (endpoint: string | undefined) => createSqsClient(connectionFor(endpoint, 'SQS'));

export interface S3Location {
  bucket: string;
  /** '' or ending in '/'. */
  prefix: string;
}

export const isS3Url = (text: string) => /^s3:\/\//i.test(text);

/** s3://bucket[/prefix]: the prefix as the deployment's backupPrefix, '' or ending in '/'. */
export function parseS3Url(text: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(text);
  if (!match) throw new SnapmetaError('BAD_ARGUMENT', `${JSON.stringify(text)} is not an s3://bucket[/prefix] location`);
  const prefix = match[2];
  return { bucket: match[1], prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` };
}

const NETWORK_ERRORS = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH'];

/** A network error says which endpoint and what to pass; any other error passes through. */
export function unreachable(err: NodeJS.ErrnoException, endpoint: string | undefined): Error {
  if (!NETWORK_ERRORS.includes(err.code ?? '')) return err;
  const where = endpoint ?? 'AWS (no --endpoint)';
  err.message = `cannot reach ${where}: ${err.message}; for the local stack, start it (npm start) and pass the --endpoint it prints`;
  return err;
}
