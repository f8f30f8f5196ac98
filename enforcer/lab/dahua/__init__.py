"""A simulated Dahua/Amcrest device speaking CGI and RPC2 (protocols/dahua-cgi.md): the request
handler (:mod:`.device`) and its resources, one module per CGI."""
