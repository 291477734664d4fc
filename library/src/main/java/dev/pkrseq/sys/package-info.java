/**
 * The native layer: the only code that touches {@link java.lang.foreign.Linker}. Every downcall
 * handle is built once; errno is captured per thread and read only on failure, and becomes one
 * {@link dev.pkrseq.sys.NativeException} with the call, its arguments in C terms and the errno by name.
 * Every call is a JDK Flight Recorder event ({@code dev.pkrseq.NativeCall}).
 */
package dev.pkrseq.sys;
