/** The action's entry, bundled into dist/index.mjs: the one place that touches process-wide state. */
import { run } from './run.js';

// The AWS SDK's own switch for its Node 20 warning (see AWS_SDK_WARNING_FILTER in
// src/store/s3.ts, not imported here: the SDK loads only when an s3:// store is opened).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

await run();
