import { createRequire as __staticsCreateRequire } from 'node:module'; const require = __staticsCreateRequire(import.meta.url);
function t(e){if(!e?.owner)return"";let{host:r,pid:n,operation:o,since:i}=e.owner;return` (held by ${o} on ${r}, pid ${n}, since ${i})`}export{t as a};
