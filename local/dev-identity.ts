// The local stack's development key: made once, in age-keygen's file format so
// `age -d -i` and `snapmeta restore --identity` both read it, private to the user.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { SnapmetaError } from '../lib/core/errors.ts';

export interface DevIdentity {
  path: string;
  recipient: string;
  created: boolean;
}

export async function ensureDevIdentity(path: string): Promise<DevIdentity> {
  const existing = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing !== undefined) {
    const secret = existing.split('\n').find((line) => line.startsWith('AGE-SECRET-KEY-'));
    if (!secret) {
      throw new SnapmetaError('BAD_ARGUMENT', `${path} holds no age identity (no AGE-SECRET-KEY-… line): move it away for a new development identity, or set SNAPMETA_AGE_RECIPIENTS`);
    }
    return { path, recipient: await identityToRecipient(secret.trim()), created: false };
  }
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // 'wx': never replace a key someone else just made.
  await writeFile(path, `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`, { mode: 0o600, flag: 'wx' });
  return { path, recipient, created: true };
}
