/**
 * The pkrseq command line: picocli commands over the library's API, text tables or JSON.
 */
module dev.pkrseq.tool {
    requires dev.pkrseq;
    requires info.picocli;
    requires com.fasterxml.jackson.databind;
    // JVM logging moved to stderr at run time (the HotSpot diagnostic command bean).
    requires java.management;
    // pkrseq shell: the JDK's jshell tool.
    requires jdk.jshell;

    opens dev.pkrseq.cli to info.picocli, com.fasterxml.jackson.databind;
}
