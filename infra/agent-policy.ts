// What a backup agent may do: upload its own host's indexes and read its own
// host's receipts. The host comes from a tag on the agent's principal, so one
// policy serves every host and no host can publish for another.
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeWildcardResources } from './nag.ts';
import { AGENT, NOTIFICATION_FILTER } from '../lib/service/settings.ts';
import { STAGING_OUTPUT_PREFIXES } from '../lib/core/keys.ts';

const HOST_VARIABLE = `\${aws:PrincipalTag/${AGENT.hostTagKey}}`;

export class AgentPolicy extends Construct {
  readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, stagingBucket: s3.IBucket) {
    super(scope, id);
    const receipts = STAGING_OUTPUT_PREFIXES.map((p) => `${p}${HOST_VARIABLE}/`);
    const receiptObjects = receipts.map((p) => `${p}*`);
    const uploads = `${NOTIFICATION_FILTER.prefix}${HOST_VARIABLE}/*`;
    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      description: `snapmeta agents: upload to incoming/<host>/ and read receipts for <host>, where <host> is the principal tag ${AGENT.hostTagKey}`,
      statements: [
        new iam.PolicyStatement({
          sid: 'UploadOwnIndexes',
          // Abort lets an agent clean up its own failed multipart upload.
          actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
          resources: [stagingBucket.arnForObjects(uploads)],
        }),
        new iam.PolicyStatement({
          sid: 'ReadOwnReceipts',
          actions: ['s3:GetObject'],
          resources: receiptObjects.map((p) => stagingBucket.arnForObjects(p)),
        }),
        new iam.PolicyStatement({
          // Lets an agent poll for its receipts by listing its own prefixes.
          sid: 'ListOwnReceipts',
          actions: ['s3:ListBucket'],
          resources: [stagingBucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': receiptObjects } },
        }),
      ],
    });
    acknowledgeWildcardResources(
      this.policy,
      [uploads, ...receiptObjects].map((p) => stagingBucket.arnForObjects(p)),
      "Keys under the agent's own host prefix (from its principal tag) name snapshots not known at deploy time: that prefix is the narrowest scope.",
    );
  }
}
