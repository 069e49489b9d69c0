// The scheduled fleet watch: how many hosts have gone silent (no export for
// longer than the threshold), as one metric with an alarm. One number however
// many hosts there are, so its cost stays flat; the names go to the log.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { S3Client } from '@aws-sdk/client-s3';
import { fleetStatus, silentHosts } from '../lib/service/fleet.ts';
import { METRICS } from '../lib/service/settings.ts';

export interface FleetWatchDeps {
  s3: S3Client;
  stagingBucket: string;
  silentHours: number;
  logger?: Logger;
  metrics?: Metrics;
}

/** Names logged at most, so one run's log line stays readable. */
const NAMES_LOGGED = 100;

export function createFleetWatchHandler(deps: FleetWatchDeps): () => Promise<{ hosts: number; silent: string[] }> {
  const logger = deps.logger ?? new Logger({ serviceName: METRICS.fleetService });
  const metrics = deps.metrics ?? new Metrics({ namespace: METRICS.namespace, serviceName: METRICS.fleetService });
  return async () => {
    const fleet = await fleetStatus(deps.s3, deps.stagingBucket);
    const silent = silentHosts(fleet, deps.silentHours).map((host) => host.host);
    metrics.addMetric('SilentHosts', MetricUnit.Count, silent.length);
    metrics.addMetric('HostsSeen', MetricUnit.Count, fleet.length);
    metrics.publishStoredMetrics();
    const fields = { hosts: fleet.length, silentHours: deps.silentHours, silent: silent.slice(0, NAMES_LOGGED) };
    if (silent.length) logger.warn(`${silent.length} hosts published nothing for more than ${deps.silentHours} hours`, fields);
    else logger.info('every host published recently', fields);
    return { hosts: fleet.length, silent };
  };
}
