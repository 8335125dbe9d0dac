"""Components of the fetch step: what happens to a request between the spider and the network."""
