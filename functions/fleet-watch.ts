// Lambda entry point of the scheduled fleet watch (bundled by infra/bundle.ts).
import { connectionFromEnv, createS3Client } from '../lib/service/aws-clients.ts';
import { parseWhole } from '../lib/service/env.ts';
import { SILENT_HOURS } from '../lib/service/settings.ts';
import { createFleetWatchHandler } from './fleet-watch-handler.ts';

const stagingBucket = process.env.SNAPMETA_STAGING_BUCKET;
if (!stagingBucket) throw new Error('SNAPMETA_STAGING_BUCKET is not set: the fleet watch reads the receipts there');
const silentHours = parseWhole('SNAPMETA_SILENT_HOURS', process.env.SNAPMETA_SILENT_HOURS, SILENT_HOURS, 1, 24 * 365);

export const handler = createFleetWatchHandler({ s3: createS3Client(connectionFromEnv('S3', process.env)), stagingBucket, silentHours });
