/**
 * The pkrseq command line: picocli commands over the library's API, text tables or JSON.
 */
module dev.pkrseq.tool {
    requires dev.pkrseq;
    requires info.picocli;
    requires com.fasterxml.jackson.databind;

    opens dev.pkrseq.cli to info.picocli, com.fasterxml.jackson.databind;
}
