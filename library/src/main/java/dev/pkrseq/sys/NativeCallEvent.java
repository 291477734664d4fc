package dev.pkrseq.sys;

import dev.pkrseq.Errno;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * One call through the native layer, as a JDK Flight Recorder event named {@code dev.pkrseq.NativeCall}.
 *
 * <p>The layer calls {@link #begin()} before the downcall and fills the fields only when
 * {@link #shouldCommit()} says a recording wants the event, so with no recording the cost is a
 * couple of predictable branches. Stack traces are off: the calls are hot and the function name says
 * where they come from.
 */
@Name(NativeCallEvent.NAME)
@Label("Native Call")
@Category({"pkrseq", "Native"})
@Description("A C library function or system call made by pkrseq's native layer")
@StackTrace(false)
public final class NativeCallEvent extends Event {
    /** The event name to enable or print, for example with {@code jfr print --events dev.pkrseq.NativeCall}. */
    public static final String NAME = "dev.pkrseq.NativeCall";

    @Label("Function")
    @Description("The C function or system call")
    String function;

    @Label("Arguments")
    String arguments;

    @Label("Result")
    @Description("The return value; -1 with an errno on failure for most calls")
    long result;

    @Label("errno")
    @Description("The errno name when the call failed, otherwise null")
    String errno;

    /** Creates an event; the native layer creates one per call. */
    public NativeCallEvent() {
    }

    /**
     * Fills in and commits the event. Call only after {@link #shouldCommit()} returned true.
     *
     * @param function the C function
     * @param arguments the rendered arguments
     * @param result the raw return value
     * @param errnoValue errno when the call failed, else 0
     */
    void commit(String function, String arguments, long result, int errnoValue) {
        this.function = function;
        this.arguments = arguments;
        this.result = result;
        this.errno = errnoValue == 0 ? null : Errno.of(errnoValue).name();
        commit();
    }
}
