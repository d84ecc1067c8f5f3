import { createRequire as __staticsCreateRequire } from 'node:module'; const require = __staticsCreateRequire(import.meta.url);
import{a as u}from"./chunk-FM46RNGU.mjs";function y(n,e){return[n,...e?.transitions??[]].slice(0,8)}import f from"node:crypto";function d(n,e){let r=Math.min(n.length,e.length);for(let i=0;i<r;i++){let o=n.charCodeAt(i),s=e.charCodeAt(i);if(o===s)continue;let c=o>=55296&&o<=57343,t=s>=55296&&s<=57343;return c!==t?c?1:-1:o-s}return n.length-e.length}function R(n){let e=[];return g(n,"",e),e.push(`
`),e.join("")}function g(n,e,r){switch(typeof n){case"string":r.push(JSON.stringify(n));return;case"boolean":r.push(n?"true":"false");return;case"number":if(!Number.isFinite(n))throw a(`the number ${n}`);r.push(JSON.stringify(n));return;case"object":break;default:throw a(`a value of type ${typeof n}`)}if(n===null){r.push("null");return}let i=e+"  ";if(Array.isArray(n)){if(n.length===0){r.push("[]");return}r.push(`[
`);for(let t=0;t<n.length;t++)r.push(i),g(n[t],i,r),r.push(t<n.length-1?`,
`:`
`);r.push(e,"]");return}let o=Object.getPrototypeOf(n);if(o!==Object.prototype&&o!==null)throw a(`an object of class ${n.constructor?.name??"unknown"}`);let s=n,c=Object.keys(s).filter(t=>s[t]!==void 0).sort(d);if(c.length===0){r.push("{}");return}r.push(`{
`);for(let t=0;t<c.length;t++){let p=c[t];r.push(i,JSON.stringify(p),": "),g(s[p],i,r),r.push(t<c.length-1?`,
`:`
`)}r.push(e,"}")}function a(n){return new u("internal",`canonicalJson: ${n} cannot be represented in JSON`)}var h=typeof f.hash=="function"?f.hash:void 0;function k(n){return h?h("sha256",n,"hex"):f.createHash("sha256").update(n).digest("hex")}export{y as a,d as b,R as c,k as d};
