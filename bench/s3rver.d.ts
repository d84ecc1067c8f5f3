// s3rver ships no types; bench/services.ts declares the members it uses.
declare module 's3rver';
