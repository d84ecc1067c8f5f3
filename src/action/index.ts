/** The action's entry, bundled into dist/index.mjs: the one place that touches process-wide state. */
import { AWS_SDK_WARNING_FILTER } from '../store/s3.js';
import { run } from './run.js';

// The AWS SDK warns on every start under Node 20; users of the action must not see it.
process.env[AWS_SDK_WARNING_FILTER.env.name] ??= AWS_SDK_WARNING_FILTER.env.value;

await run();
