// SPDX-License-Identifier: LGPL-2.1-or-later
// The README's example in Vala, through gios-1.vapi:
//   valac --pkg gios-1 hello.vala
int main () {
    try {
        var server = new Gios.ServerSocket ();
        server.open_address ("127.0.0.1", "0", 1000);
        var client = new Gios.Socket ();
        client.open ("127.0.0.1", server.port.to_string (), 1000, null);
        client.write_line ("hello", null);
        client.flush (1000, null);

        server.listen (1000, null);                    // wait 1 s for a connection
        var line = server.read_line (80, null, 1000, null);
        server.write_line ("world", null);
        server.drop_connection ();                     // flushes, keeps listening

        var reply = client.read_line (80, null, 1000, null);
        print ("server read \"%s\", client read \"%s\"\n", line, reply);
        return 0;
    } catch (Error e) {
        printerr ("%s\n", e.message);
        return 1;
    }
}
