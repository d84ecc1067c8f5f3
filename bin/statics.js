#!/usr/bin/env node
// The AWS SDK warns on Node 20 at every start; that is not the user's concern. This is the SDK's
// own switch (see AWS_SDK_WARNING_FILTER in src/store/s3.ts).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { main } = await import('../build/src/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
