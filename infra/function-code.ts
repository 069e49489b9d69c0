// A function's code as CDK's asset: built by bundleFunction (infra/bundle.ts)
// with the local esbuild, not NodejsFunction's own run, since it also places the
// WASM, the zstd addon and the export worker, and the tests load what it builds.
import { dirname } from 'node:path';
import { AssetHashType } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Architecture } from '../lib/service/settings.ts';
import { bundleFunction } from './bundle.ts';

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
