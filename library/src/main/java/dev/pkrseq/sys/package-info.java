/**
 * The native layer, not exported: the only code that touches {@link java.lang.foreign.Linker}. One
 * package-private helper ({@code Native}) holds the call template once: every downcall handle is built
 * once, errno is captured per thread and read only on failure and becomes one
 * {@link dev.pkrseq.NativeException} with the call, its arguments in C terms and the errno by name, and
 * every call is a JDK Flight Recorder event ({@code dev.pkrseq.NativeCall}). Over it, one class per
 * subject, one C call per method: {@link dev.pkrseq.sys.PkeyCalls}, {@link dev.pkrseq.sys.MemoryCalls},
 * {@link dev.pkrseq.sys.ThreadCalls}, {@link dev.pkrseq.sys.LoaderCalls}, {@link dev.pkrseq.sys.RseqCalls};
 * the C structs they read are layouts ({@link dev.pkrseq.sys.CStructs}).
 */
package dev.pkrseq.sys;
