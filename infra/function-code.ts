// A function's code as CDK's asset: built by bundleFunction (infra/bundle.ts)
// with the local esbuild, not NodejsFunction's own run, since it also places the
// WASM, the zstd addon and the export worker, and the tests load what it builds.
// And what every function of the stack shares besides its code (lambdaBasics).
import { dirname } from 'node:path';
import { AssetHashType, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, IConstruct } from 'constructs';
import { LOG_RETENTION_DAYS, METRICS, type Architecture } from '../lib/service/settings.ts';
import { bundleFunction, HANDLER } from './bundle.ts';

export function bundledCode(entry: string, architecture: Architecture): lambda.AssetCode {
  return lambda.Code.fromAsset(dirname(entry), {
    // Hash what is deployed, not the source directory.
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: lambda.Runtime.NODEJS_22_X.bundlingImage,
      // Unused by local bundling, but part of CDK's bundling cache key: without
      // them two functions, or two stacks differing only in architecture, share a bundle.
      environment: { SNAPMETA_ARCHITECTURE: architecture, SNAPMETA_ENTRY: entry },
      local: { tryBundle: (outDir: string) => (bundleFunction({ architecture, outDir, entry }), true) },
    },
  });
}

export interface LambdaBasics {
  logGroup: logs.LogGroup;
  role: iam.Role;
  /** The role's only logging right, to its own log group: the construct adds it where its policy lists it. */
  writeLogs: iam.PolicyStatement;
  /**
   * The function's props every function of the stack has alike; the runtime
   * each states itself (test/cli/install.test.ts reads the export's).
   */
  props: Pick<lambda.FunctionProps, 'architecture' | 'handler' | 'code' | 'role' | 'logGroup'>;
  /** Its environment's start: source maps, and the service its metrics (lib/service/settings.ts METRICS) carry. */
  environment: Record<string, string>;
}

/**
 * A function's log group, role and common props, made in the construct's own
 * scope (so their logical ids are the construct's). Our own role and log
 * group: the managed AWSLambdaBasicExecutionRole would let the function write
 * to any log group.
 */
export function lambdaBasics(scope: Construct, { entry, architecture, service }: { entry: string; architecture: Architecture; service: string }): LambdaBasics {
  const logGroup = new logs.LogGroup(scope, 'Logs', { retention: LOG_RETENTION_DAYS as logs.RetentionDays });
  const role = new iam.Role(scope, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  return {
    logGroup,
    role,
    writeLogs: new iam.PolicyStatement({ sid: 'WriteLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    props: {
      architecture: architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
      handler: HANDLER,
      code: bundledCode(entry, architecture),
      role,
      logGroup,
    },
    environment: {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: service,
      POWERTOOLS_METRICS_NAMESPACE: METRICS.namespace,
    },
  };
}

/** cdk-nag's runtime finding, accepted on each of the stack's functions. */
export function acknowledgeRuntime(fn: IConstruct): void {
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'nodejs22.x is the runtime this project targets and tests, for both functions; moving to a newer one is a deliberate, tested change.',
  });
}
