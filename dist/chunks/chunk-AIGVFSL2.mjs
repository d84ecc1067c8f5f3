import { createRequire as __staticsCreateRequire } from 'node:module'; const require = __staticsCreateRequire(import.meta.url);
function n(i,e){return[i,...e?.transitions??[]].slice(0,8)}export{n as a};
