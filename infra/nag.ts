// cdk-nag acknowledgements that name the exact finding (rule plus resource),
// so a wildcard added later still fails synth until someone justifies it.
import { Stack, Validations } from 'aws-cdk-lib';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';

/** Acknowledge AwsSolutions-IAM5 for these resource ARNs only, on the policy's construct. */
export function acknowledgeWildcardResources(policy: IConstruct, resources: string[], reason: string): void {
  const stack = Stack.of(policy);
  Validations.of(policy).acknowledge(
    // Rendered by cdk-nag's own function, so the id is the one it reports.
    ...resources.map((arn) => ({ id: `AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(arn))}]`, reason })),
  );
}
