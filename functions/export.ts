// Lambda entry point (bundled by infra/bundle.ts): configuration is read once
// per cold start, and a bad one fails the init rather than any message.
import { createS3Client, connectionFromEnv } from '../lib/service/aws-clients.ts';
import { loadExportConfig } from '../lib/service/config.ts';
import { createExportHandler } from './export-handler.ts';

export const handler = createExportHandler({
  config: await loadExportConfig(process.env),
  s3: createS3Client(connectionFromEnv('S3', process.env)),
});
