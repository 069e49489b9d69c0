// `cdk synth` / `cdk deploy` entry point (see cdk.json and docs/deploy.md).
// No lookups and no environment: synth runs offline without an AWS account.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { configFromContext } from './config.ts';
import { SnapmetaStack } from './stack.ts';

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
new SnapmetaStack(app, String(app.node.tryGetContext('stackName') ?? 'Snapmeta'), configFromContext(app.node));
app.synth();
